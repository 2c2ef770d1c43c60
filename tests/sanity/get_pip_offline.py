"""Stand-in for ansible-test's pip bootstrap script (get-pip.py), which it downloads from a host this
machine cannot reach. Same contract: called as `python get_pip.py [pip options] pip==X ...` inside a fresh
virtualenv; here pip comes from the interpreter's own ensurepip, then the requested versions from PyPI.
`make sanity` copies it to ~/.ansible/test/cache/get_pip_<version>.py."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
