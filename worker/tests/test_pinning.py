"""Pinning of the RayFed proxies and the SPU runtime to the gateway resource (sfworker.pinning).

Pure logic with fakes first; then the assumptions about the installed secretflow/RayFed (skipped
when they are not importable). The real placement on a 2-node party is proven by the integration test.
"""

import types

import pytest

from sfworker.pinning import (
    GATEWAY_RESOURCE_AMOUNT, SfdProxy, decide_pinning, fed_proxies_without_cpu, gateway_label, merge_comm_options,
    pin_spu_runtimes,
)

LABEL = {"sf_gateway": GATEWAY_RESOURCE_AMOUNT}


# ----------------------------------------------------------------------------- decide / merge

def test_decide_pinning():
    assert decide_pinning(None, {"sf_gateway": 1000}) == (None, None)  # switched off: no warning
    assert decide_pinning("", {"sf_gateway": 1000}) == (None, None)
    assert decide_pinning("sf_gateway", {"CPU": 5.0, "sf_gateway": 1000.0}) == (LABEL, None)
    assert decide_pinning("sf_gateway", {"sf_gateway": 0.5}) == (LABEL, None)  # partly used is still there
    label, note = decide_pinning("sf_gateway", {"CPU": 4.0, "node:127.0.0.1": 1.0, "alice": 1.0})
    assert label is None
    assert "'sf_gateway' is not offered" in note and "NOT pinned" in note and "['alice']" in note
    assert "node:" not in note and "--resources='{\"sf_gateway\": 1000}'" in note
    assert gateway_label("gw") == {"gw": GATEWAY_RESOURCE_AMOUNT}
    assert 0 < GATEWAY_RESOURCE_AMOUNT < 1


def test_merge_comm_options_keeps_everything_else():
    comm = {"timeout_in_ms": 1000, "exit_on_sending_failure": True,
            "recv_resource_label": {"other": 1}, "send_resource_label": {"sf_gateway": 0.5}}
    out = merge_comm_options(comm, LABEL)
    assert out["timeout_in_ms"] == 1000 and out["exit_on_sending_failure"] is True
    assert out["recv_resource_label"] == {"other": 1, "sf_gateway": GATEWAY_RESOURCE_AMOUNT}
    assert out["send_resource_label"] == {"sf_gateway": 0.5}  # explicit amount wins
    assert comm["recv_resource_label"] == {"other": 1}  # input not mutated
    assert merge_comm_options({}, LABEL) == {"recv_resource_label": LABEL, "send_resource_label": LABEL}
    assert merge_comm_options({"recv_resource_label": None}, LABEL)["recv_resource_label"] == LABEL


def test_merge_comm_options_rejects_non_mapping():
    with pytest.raises(ValueError, match="recv_resource_label must be a mapping"):
        merge_comm_options({"recv_resource_label": "sf_gateway"}, LABEL)


# ----------------------------------------------------------------------------- SPU runtime patch (fakes)

class FakeFedRemoteClass:
    """Behaves like fed.api.FedRemoteClass: party() and options() return self, options() REPLACES."""

    def __init__(self, cls):
        self._cls, self._party, self._options = cls, None, {}
        self.created = []

    def party(self, party):
        self._party = party
        return self

    def options(self, **options):
        self._options = options
        return self

    def remote(self, *args, **kwargs):
        self.created.append((self._party, dict(self._options), args))
        return ("actor", self._party, dict(self._options))


class FakeSfd:
    def __init__(self):
        self.remotes = []
        self.killed = []

    def remote(self, *args, **kwargs):
        r = FakeFedRemoteClass(args[0] if args else None)
        self.remotes.append(r)
        return r

    def kill(self, actor):
        self.killed.append(actor)

    def get(self, x):
        return ("got", x)


class SPURuntime:  # stand-in for secretflow's class (identity matters, not behaviour)
    pass


def _fake_spu_module():
    mod = types.ModuleType("fake_spu")
    mod.sfd = FakeSfd()
    mod.SPURuntime = SPURuntime

    def init(cluster_def):  # the exact call shape of secretflow 1.11.0b1 SPU.init()
        return {node["party"]: mod.sfd.remote(SPURuntime).party(node["party"]).remote(rank, cluster_def)
                for rank, node in enumerate(cluster_def["nodes"])}

    mod.init = init
    return mod


def test_pin_spu_runtimes_adds_resources_only_to_spu_runtime():
    mod = _fake_spu_module()
    real = mod.sfd
    undo = pin_spu_runtimes(LABEL, spu_module=mod)
    assert isinstance(mod.sfd, SfdProxy)
    actors = mod.init({"nodes": [{"party": "alice"}, {"party": "bob"}]})
    assert actors["alice"] == ("actor", "alice", {"resources": LABEL, "num_cpus": 0})
    assert actors["bob"] == ("actor", "bob", {"resources": LABEL, "num_cpus": 0})  # unused by fed for a peer's actor; harmless

    def compile_fn():
        pass

    other = mod.sfd.remote(compile_fn).party("alice").remote()  # functions stay unpinned
    assert other == ("actor", "alice", {})
    assert mod.sfd.get(1) == ("got", 1) and (mod.sfd.kill("a") or real.killed == ["a"])  # delegated
    undo()
    assert mod.sfd is real
    assert mod.init({"nodes": [{"party": "alice"}]})["alice"] == ("actor", "alice", {})  # unpinned again


def test_pin_spu_runtimes_merges_existing_options_and_is_idempotent():
    mod = _fake_spu_module()
    real = mod.sfd
    pin_spu_runtimes({"other": 1}, spu_module=mod)
    pin_spu_runtimes(LABEL, spu_module=mod)  # re-patching wraps the ORIGINAL, not the proxy
    assert mod.sfd._real is real
    rc = mod.sfd.remote(SPURuntime)
    rc._inner.options(num_cpus=2, resources={"x": 1, "sf_gateway": 0.5})
    assert rc.party("alice").remote() == ("actor", "alice",
                                          {"num_cpus": 2, "resources": {"x": 1, "sf_gateway": 0.5}})
    assert mod.sfd.remote(SPURuntime).party("bob").remote() == ("actor", "bob", {"resources": LABEL, "num_cpus": 0})


def test_fed_proxies_without_cpu_fakes():
    mod = types.SimpleNamespace(ReceiverProxyActor=types.SimpleNamespace(_default_options={}),
                                SenderProxyActor=types.SimpleNamespace(_default_options={"num_cpus": 2}))
    assert fed_proxies_without_cpu(mod) == {"ReceiverProxyActor": True, "SenderProxyActor": True,
                                            "SenderReceiverProxyActor": False}
    assert mod.ReceiverProxyActor._default_options == {"num_cpus": 0}
    assert mod.SenderProxyActor._default_options == {"num_cpus": 2}  # an explicit value is kept


def test_pin_spu_runtimes_refuses_unknown_layout():
    with pytest.raises(RuntimeError, match="cannot pin SPU runtime actors.*gateway_resource: null"):
        pin_spu_runtimes(LABEL, spu_module=types.ModuleType("spu_without_sfd"))


# ----------------------------------------------------------------------------- the installed secretflow / RayFed

def test_installed_rayfed_turns_labels_and_options_into_actor_resources():
    """The RayFed code paths the pinning relies on (fed 0.2.1a2 as pinned for secretflow 1.11.0b1)."""
    fed_config = pytest.importorskip("fed.config")
    import inspect

    from fed.api import FedRemoteClass
    from fed.proxy import barriers

    c = fed_config.CrossSiloMessageConfig.from_dict(merge_comm_options({"timeout_in_ms": 5}, LABEL))
    assert c.recv_resource_label == LABEL and c.send_resource_label == LABEL
    g = fed_config.GrpcCrossSiloMessageConfig.from_dict(merge_comm_options({}, LABEL))
    assert g.send_resource_label == LABEL
    # the label becomes the proxy actor's `resources` option
    assert 'actor_options.update({"resources": proxy_config.recv_resource_label})' in inspect.getsource(
        barriers._start_receiver_proxy)
    assert 'actor_options.update({"resources": proxy_config.send_resource_label})' in inspect.getsource(
        barriers._start_sender_proxy)
    # FedRemoteClass: party()/options() chain; options are handed to ray.remote(cls).options(...)
    rc = FedRemoteClass(SPURuntime)
    assert rc.party("alice") is rc and rc.options(resources=LABEL) is rc and rc._options == {"resources": LABEL}
    from fed._private.fed_actor import FedActorHandle

    assert ".options(**self._options)" in inspect.getsource(FedActorHandle._execute_impl)


def test_installed_rayfed_proxy_default_options_give_num_cpus_0():
    """Ray merges ActorClass._default_options under .options(...): the proxies get resources AND num_cpus=0."""
    pytest.importorskip("fed.proxy.barriers")
    import inspect

    from fed.proxy import barriers
    from ray._private import ray_option_utils

    saved = {n: dict(getattr(barriers, n)._default_options) for n in ("ReceiverProxyActor", "SenderProxyActor",
                                                                    "SenderReceiverProxyActor")}
    try:
        assert fed_proxies_without_cpu() == {"ReceiverProxyActor": True, "SenderProxyActor": True,
                                             "SenderReceiverProxyActor": True}
        for n in saved:
            cls = getattr(barriers, n)
            merged = ray_option_utils.update_options(dict(cls._default_options),
                                                     {"resources": LABEL, "max_concurrency": 1000, "name": "x"})
            assert merged["num_cpus"] == 0 and merged["resources"] == LABEL
        import ray.actor

        assert "ray_option_utils.update_options(\n            default_options, actor_options" in \
            inspect.getsource(ray.actor.ActorClass.options)
    finally:
        for n, opts in saved.items():
            getattr(barriers, n)._default_options.clear()
            getattr(barriers, n)._default_options.update(opts)


def test_installed_secretflow_spu_goes_through_the_proxy():
    """secretflow's real SPU.init() creates its runtimes via spu.sfd.remote(SPURuntime).party(p)."""
    spu_mod = pytest.importorskip("secretflow.device.device.spu")
    import inspect

    assert "sfd.remote(SPURuntime)" in inspect.getsource(spu_mod.SPU.init)
    fake = FakeSfd()
    orig = spu_mod.sfd
    spu_mod.sfd = fake
    try:
        undo = pin_spu_runtimes(LABEL)  # default: patches the real secretflow module
        assert isinstance(spu_mod.sfd, SfdProxy) and spu_mod.sfd._target_cls is spu_mod.SPURuntime
        dev = spu_mod.SPU.__new__(spu_mod.SPU)
        dev.cluster_def = {"nodes": [{"party": "alice"}, {"party": "bob"}]}
        dev.link_desc, dev.log_options, dev.id, dev.actors = None, None, "spu", {}
        dev.init()  # secretflow's own code
        assert dev.actors["alice"] == ("actor", "alice", {"resources": LABEL, "num_cpus": 0})
        assert [r._cls for r in fake.remotes] == [spu_mod.SPURuntime, spu_mod.SPURuntime]
        undo()
        assert spu_mod.sfd is fake
    finally:
        spu_mod.sfd = orig


def test_installed_secretflow_ray_production_remote_is_rayfed():
    """In RAY_PRODUCTION mode (sf.init with ray_mode=True, what the job uses) sfd.remote is fed.remote."""
    op_strategy = pytest.importorskip("secretflow_fl.distributed.op_strategy")
    import inspect

    assert "rayfed.remote(" in inspect.getsource(op_strategy.RayProdStrategy.remote)
    import fed

    assert op_strategy.rayfed is fed
