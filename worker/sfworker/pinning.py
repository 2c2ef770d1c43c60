"""Pin the actors that must run behind the party's external address to the party's Ray head.

Other parties dial `external_ip:fed_port+slot` (RayFed) and `external_ip:spu_port+slot` (SPU link).
Those addresses point at the party's Ray HEAD, but with several Ray nodes per party Ray may
schedule the actors that listen on (or dial out from) these ports on any node of the party:

    RayFed ReceiverProxyActor   listens on the fed port          -> must be on the head
    RayFed SenderProxyActor     dials the peers' fed ports        -> on the head (egress/NAT of the party)
    SecretFlow SPURuntime       listens on / dials the SPU ports  -> must be on the head

The deployment starts the head with a custom resource that no other node has
(`ray start --head --resources='{"sf_gateway": 1000}'`) and renders `gateway_resource: sf_gateway`
into the worker config. Each of the actors above then asks for a small fraction of it
(GATEWAY_RESOURCE_AMOUNT), which Ray can only satisfy on the head:

* RayFed proxies: `cross_silo_comm_options.{recv,send}_resource_label` (fed/proxy/barriers.py
  turns the label into the actor's `resources` option) -- merge_comm_options().
* SPU runtime: secretflow 1.11.0b1 creates it in secretflow/device/device/spu.py as
  `sfd.remote(SPURuntime).party(party).remote(...)` with no way to pass actor options. In
  RAY_PRODUCTION mode `sfd.remote` is RayFed's `fed.remote`, which returns a FedRemoteClass that
  has `.options(**actor_options)` (passed to `ray.remote(cls).options(...)` for the own party's
  actor). pin_spu_runtimes() replaces the module global `sfd` *of spu.py only* with a proxy that
  delegates everything and, for `remote(SPURuntime)` only, adds `resources=` in `.party(...)`.

Ray detail: an actor that names ANY resource holds 1 CPU for its lifetime unless it sets num_cpus
(an actor without resource options holds none). Unpinned, these actors hold no CPU; pinned they
would hold 3 of the head's CPUs per running job (and a head with fewer free CPUs could not start
them at all). So the pinned actors also get num_cpus=0: the SPU runtime through its options, the
RayFed proxy classes through their `@ray.remote` default options (fed_proxies_without_cpu()).

PYU actors are deliberately not pinned: they only talk to their own Ray cluster.

Pinning is only done when `gateway_resource` is set AND the party's Ray cluster has that resource
(decide_pinning); otherwise the job runs unpinned with a warning (single-node clusters, tests).
Nothing in this module imports ray or secretflow at import time.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

# Fraction of the gateway resource each pinned actor requests. The head gets 1000 units, so the
# number of pinned actors (3 per running job) is never the limit; a fraction also keeps the actors
# from competing for CPU slots with anything else.
GATEWAY_RESOURCE_AMOUNT = 0.01

COMM_LABEL_KEYS = ("recv_resource_label", "send_resource_label")


def gateway_label(resource: str, amount: float = GATEWAY_RESOURCE_AMOUNT) -> Dict[str, float]:
    return {resource: amount}


def decide_pinning(gateway_resource: Optional[str],
                   cluster_resources: Mapping[str, float]) -> Tuple[Optional[Dict[str, float]], Optional[str]]:
    """(resource label to pin with, or None; warning text or None).

    - gateway_resource unset (config null/""): (None, None) -- pinning switched off on purpose.
    - the party's Ray cluster does not have the resource: (None, warning) -- pinning would make the
      actors unschedulable, so run unpinned and say so.
    """
    if not gateway_resource:
        return None, None
    have = float(cluster_resources.get(gateway_resource, 0) or 0)
    if have < GATEWAY_RESOURCE_AMOUNT:
        custom = sorted(k for k in cluster_resources
                        if k not in ("CPU", "GPU", "memory", "object_store_memory") and not k.startswith("node:"))
        return None, (
            f"gateway_resource {gateway_resource!r} is not offered by this party's Ray cluster "
            f"(custom resources: {custom or 'none'}); the RayFed proxies and the SPU runtime are NOT pinned to "
            f"the Ray head. Fine with one Ray node; with several, start the head with "
            f"--resources='{{\"{gateway_resource}\": 1000}}'"
        )
    return gateway_label(gateway_resource), None


def _merge_resources(current: Any, label: Mapping[str, float], key: str) -> Dict[str, Any]:
    if current is None:
        current = {}
    if not isinstance(current, Mapping):
        raise ValueError(f"cross_silo_comm_options.{key} must be a mapping resource -> amount, got {current!r}")
    merged = dict(current)
    for k, v in label.items():
        merged.setdefault(k, v)  # an amount the operator gave explicitly wins
    return merged


def merge_comm_options(comm: Mapping[str, Any], label: Mapping[str, float]) -> Dict[str, Any]:
    """cross_silo_comm_options with the gateway label added to the receiver and sender proxy labels.

    Other options and resources already in the labels are kept.
    """
    out = dict(comm)
    for key in COMM_LABEL_KEYS:
        out[key] = _merge_resources(out.get(key), label, key)
    return out


class _PinningRemoteClass:
    """Wraps what `sfd.remote(SPURuntime)` returns (fed.api.FedRemoteClass in RAY_PRODUCTION mode).

    `.party(p)` returns the wrapped object with `resources` merged into its actor options, so the
    following `.remote(...)` creates the actor with them (FedActorHandle._execute_impl does
    `ray.remote(cls).options(**options)` for the own party's actor; for other parties' actors the
    options are unused). Everything else is delegated.
    """

    def __init__(self, inner: Any, resources: Mapping[str, float]):
        self._inner = inner
        self._resources = dict(resources)

    def party(self, party: str):
        inner = self._inner.party(party)
        opts = dict(getattr(inner, "_options", None) or {})
        opts["resources"] = _merge_resources(opts.get("resources"), self._resources, "resources")
        opts.setdefault("num_cpus", 0)  # as unpinned: hold no CPU (see module docstring)
        # FedRemoteClass.options() replaces (does not merge) its options, hence the merge above
        return inner.options(**opts)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


class SfdProxy:
    """Stands in for the `sfd` (secretflow.distributed) module global of secretflow's spu.py."""

    def __init__(self, real: Any, target_cls: Any, resources: Mapping[str, float]):
        self._real = real
        self._target_cls = target_cls
        self._resources = dict(resources)

    def remote(self, *args, **kwargs):
        obj = self._real.remote(*args, **kwargs)
        if len(args) == 1 and not kwargs and args[0] is self._target_cls:
            return _PinningRemoteClass(obj, self._resources)
        return obj  # sfd.remote(compile_fn) etc.: untouched

    def __getattr__(self, name: str):
        return getattr(self._real, name)  # sfd.get, sfd.kill, ...


def pin_spu_runtimes(resources: Mapping[str, float], spu_module: Any = None) -> Callable[[], None]:
    """Make every SPURuntime actor created from now on in this process request `resources`.

    Returns a function that undoes the patch. Raises RuntimeError if secretflow's spu module does
    not look like 1.11 (no module global `sfd` / class `SPURuntime`): better to fail the job than to
    run it unpinned while the operator believes it is pinned.
    """
    if spu_module is None:
        from secretflow.device.device import spu as spu_module  # type: ignore[no-redef]
    real = getattr(spu_module, "sfd", None)
    target = getattr(spu_module, "SPURuntime", None)
    if real is None or target is None or not hasattr(real, "remote"):
        raise RuntimeError(
            f"cannot pin SPU runtime actors: {getattr(spu_module, '__name__', spu_module)} has no module global "
            f"'sfd' with remote() and class 'SPURuntime' (secretflow changed? pinning is written for 1.11.0b1); "
            f"set gateway_resource: null in the worker config to run unpinned"
        )
    if isinstance(real, SfdProxy):  # already patched: re-patch the original
        real = real._real
    spu_module.sfd = SfdProxy(real, target, resources)

    def undo() -> None:
        spu_module.sfd = real

    return undo


FED_PROXY_CLASSES = ("ReceiverProxyActor", "SenderProxyActor", "SenderReceiverProxyActor")


def fed_proxies_without_cpu(barriers_module: Any = None) -> Dict[str, bool]:
    """Give RayFed's proxy actor classes a default num_cpus=0 (unless they already have one).

    fed/proxy/barriers.py creates them with `Cls.options(resources=<label>, ...)`; Ray merges those
    options over the class's `@ray.remote` defaults (ActorClass._default_options), so the label pins
    them and the default keeps them from holding a CPU. Returns {class name: patched}; a class that
    is missing or looks different is left alone (then it holds 1 CPU, which only costs capacity).
    """
    if barriers_module is None:
        from fed.proxy import barriers as barriers_module  # type: ignore[no-redef]
    done: Dict[str, bool] = {}
    for name in FED_PROXY_CLASSES:
        opts = getattr(getattr(barriers_module, name, None), "_default_options", None)
        if isinstance(opts, dict):
            opts.setdefault("num_cpus", 0)
            done[name] = True
        else:
            done[name] = False
    return done


# ----------------------------------------------------------------------------- placement report

def _actor_node_id(handle, timeout_s: float) -> str:
    import ray

    def node_of_actor(_actor_self):  # nested: shipped by value, Ray workers need not import sfworker
        import ray as _ray

        return _ray.get_runtime_context().get_node_id()

    # ActorHandle.__ray_call__ (Ray >= 2.9) runs a function inside the actor process
    return ray.get(handle.__ray_call__.remote(node_of_actor), timeout=timeout_s)


def collect_placement(rt: Any, pinned: bool, gateway_resource: Optional[str], note: Optional[str] = None,
                      timeout_s: float = 10.0) -> Dict[str, Any]:
    """Where the driver and the pinned actors of this party actually run (Ray node names).

    Asked from inside each actor (runtime context), mapped to node names with ray.nodes() (GCS; no
    dashboard needed). Best effort: a failed lookup is reported as "unknown: ..." and never fails
    the job.
    """
    import ray

    out: Dict[str, Any] = {"gateway_resource": gateway_resource or None, "pinned": bool(pinned)}
    if note:
        out["note"] = note
    names: Dict[str, str] = {}
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        names = {n["NodeID"]: n.get("NodeName") or n.get("NodeManagerAddress") or n["NodeID"] for n in nodes}
        if gateway_resource:
            out["gateway_nodes"] = sorted(names[n["NodeID"]] for n in nodes
                                          if (n.get("Resources") or {}).get(gateway_resource))
    except Exception as e:  # noqa: BLE001
        out["nodes_error"] = f"{type(e).__name__}: {e}"[:200]

    def name(node_id: str) -> str:
        return names.get(node_id, node_id)

    def lookup(role: str, get_handle: Callable[[], Any]) -> None:
        try:
            handle = get_handle()
            if handle is None:
                return
            out[role] = name(_actor_node_id(handle, timeout_s))
        except Exception as e:  # noqa: BLE001
            out[role] = f"unknown: {type(e).__name__}: {e}"[:200]

    try:
        out["driver"] = name(ray.get_runtime_context().get_node_id())
    except Exception as e:  # noqa: BLE001
        out["driver"] = f"unknown: {type(e).__name__}: {e}"[:200]

    def receiver():
        from fed.proxy.barriers import receiver_proxy_actor_name

        return ray.get_actor(receiver_proxy_actor_name())

    def sender():
        from fed.proxy.barriers import sender_proxy_actor_name

        return ray.get_actor(sender_proxy_actor_name())

    def spu():
        dev = getattr(rt, "_spu", None)
        if dev is None:
            return None
        # own party's FedActorHandle -> its Ray actor handle (fed internal attribute)
        return dev.actors[rt.self_party]._ray_actor_handle

    lookup("receiver_proxy", receiver)
    lookup("sender_proxy", sender)
    lookup("spu_runtime", spu)
    return out
