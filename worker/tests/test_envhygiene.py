from sfworker.envhygiene import clean_child_env, is_ray_address_var, scrub_ray_env


def test_scrub():
    env = {"RAY_ADDRESS": "x:1", "RAY_HEAD_ADDRESS": "y", "RAY_GCS_ADDRESS": "z", "ray_address": "q",
           "RAY_CLIENT_ADDR": "c", "RAY_memory_monitor_refresh_ms": "0", "PATH": "/bin", "MY_RAY_ADDRESS_NOTE": "k"}
    removed = scrub_ray_env(env)
    assert set(removed) == {"RAY_ADDRESS", "RAY_HEAD_ADDRESS", "RAY_GCS_ADDRESS", "ray_address", "RAY_CLIENT_ADDR"}
    assert env == {"RAY_memory_monitor_refresh_ms": "0", "PATH": "/bin", "MY_RAY_ADDRESS_NOTE": "k"}


def test_clean_child_env(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "1.2.3.4:6379")
    env = clean_child_env({"A": "b"})
    assert "RAY_ADDRESS" not in env and env["A"] == "b"
    assert is_ray_address_var("RAY_ADDRESS") and not is_ray_address_var("RAY_NAMESPACE")
