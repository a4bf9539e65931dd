#!/usr/bin/env python3
"""Compatibility checks with the official Kubernetes Python client.

Drives a running apiserver (KUBECONFIG) through `kubernetes` from PyPI, the
way users' scripts do, and compares every answer with what upstream's
kube-apiserver returns: objects, list chunking, watch order, status codes and
`Status` bodies. Prints one line per check, `ok - <what>` or
`not ok - <what>: <why>`, then `python client: N passed, M failed`, and exits
non-zero when anything failed. Each check is independent: a failing one is
reported and the next one still runs.

Run by tests/compat/run.sh; by hand:

    KUBECONFIG=_output/compat/cluster/admin.kubeconfig _output/compat/venv/bin/python tests/compat/python_client.py
"""

import json
import os
import sys
import time
import traceback
import uuid

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

NS = "compat-py-" + uuid.uuid4().hex[:6]
PASSED = 0
FAILED = 0


def check(name):
    """Decorator: runs the function now as one check and records the result."""

    def run(fn):
        global PASSED, FAILED
        try:
            detail = fn()
        except AssertionError as e:
            FAILED += 1
            print(f"not ok - {name}: {e or 'assertion failed'}", flush=True)
            tb = traceback.extract_tb(e.__traceback__)[-1]
            print(f"#   at {os.path.basename(tb.filename)}:{tb.lineno}: {tb.line}", flush=True)
        except Exception as e:  # an unexpected error is a failure too
            FAILED += 1
            print(f"not ok - {name}: {type(e).__name__}: {str(e)[:600]}", flush=True)
        else:
            PASSED += 1
            print(f"ok - {name}" + (f" ({detail})" if detail else ""), flush=True)
        return fn

    return run


def api_error(fn, *args, **kwargs):
    """Calls fn expecting an ApiException; returns (status, Status body dict)."""
    try:
        fn(*args, **kwargs)
    except ApiException as e:
        try:
            body = json.loads(e.body) if e.body else {}
        except ValueError:
            body = {"unparsed": e.body}
        return e.status, body
    raise AssertionError(f"{fn.__name__} succeeded, an error was expected")


def assert_status(body, code, reason, message=None):
    """Checks an upstream-shaped `Status` failure body."""
    assert body.get("kind") == "Status", f"not a Status body: {body}"
    assert body.get("apiVersion") == "v1", f"Status apiVersion: {body}"
    assert body.get("status") == "Failure", f"Status.status: {body}"
    assert body.get("code") == code, f"Status.code {body.get('code')} != {code}: {body}"
    assert body.get("reason") == reason, f"Status.reason {body.get('reason')!r} != {reason!r}: {body}"
    if message is not None:
        assert body.get("message") == message, f"message {body.get('message')!r} != {message!r}"


def cm(name, labels=None, data=None):
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        data=data if data is not None else {"k": name},
    )


config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
api = client.ApiClient()
core = client.CoreV1Api(api)
apps = client.AppsV1Api(api)
version_api = client.VersionApi(api)


def raw(method, path, body=None, content_type="application/json", headers_out=None):
    """A request the typed client cannot build (malformed JSON, YAML text, a
    huge payload, an unknown field: its pydantic models refuse those before
    sending), sent through the client's own connection pool and credentials.
    Returns (status, parsed JSON body or raw text); fills headers_out."""
    cfg = api.configuration
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    token = cfg.get_api_key_with_prefix("authorization") or cfg.get_api_key_with_prefix("BearerToken")
    if token:
        headers["Authorization"] = token
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    r = api.rest_client.pool_manager.request(
        method, cfg.host + path, body=body, headers=headers,
        timeout=urllib3.Timeout(total=30), preload_content=True,
    )
    if headers_out is not None:
        headers_out.extend(r.headers)  # an HTTPHeaderDict: case-insensitive
    text = r.data.decode("utf-8", "replace")
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


def healthy():
    """The server still answers reads and writes after bad input."""
    status, text = raw("GET", "/readyz")
    assert status == 200, f"/readyz answered {status}: {text}"
    probe = "probe-" + uuid.uuid4().hex[:6]
    core.create_namespaced_config_map(NS, cm(probe))
    core.delete_namespaced_config_map(probe, NS)


def cm_names(**kwargs):
    return sorted(i.metadata.name for i in core.list_namespaced_config_map(NS, **kwargs).items)


# --- setup ------------------------------------------------------------------

@check("server version answers through VersionApi")
def _():
    v = version_api.get_code()
    assert v.major == "1" and v.git_version.startswith("v1."), v
    return v.git_version


@check(f"create namespace {NS}")
def _():
    ns = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS, labels={"suite": "compat-py"})))
    assert ns.metadata.name == NS and ns.metadata.uid and ns.metadata.resource_version
    assert ns.status.phase == "Active", ns.status
    assert "kubernetes" in (ns.spec.finalizers or []), f"namespace spec.finalizers: {ns.spec.finalizers}"


# --- create and read ------------------------------------------------------------

DEPLOY = client.V1Deployment(
    metadata=client.V1ObjectMeta(name="web", labels={"app": "web"}),
    spec=client.V1DeploymentSpec(
        replicas=3,
        selector=client.V1LabelSelector(match_labels={"app": "web"}),
        template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels={"app": "web"}),
            spec=client.V1PodSpec(containers=[
                client.V1Container(name="nginx", image="nginx:1.22"),
                client.V1Container(name="sidecar", image="busybox:1.35", command=["sleep", "3600"]),
            ]),
        ),
    ),
)


@check("create a Deployment: defaults filled in, metadata set by the server")
def _():
    d = apps.create_namespaced_deployment(NS, DEPLOY)
    m = d.metadata
    assert m.uid and m.resource_version and m.creation_timestamp and m.generation == 1, m
    assert d.spec.replicas == 3
    assert d.spec.strategy.type == "RollingUpdate", d.spec.strategy
    assert d.spec.strategy.rolling_update.max_surge == "25%", d.spec.strategy
    assert d.spec.revision_history_limit == 10 and d.spec.progress_deadline_seconds == 600
    c = d.spec.template.spec.containers[0]
    assert c.image_pull_policy == "IfNotPresent" and c.termination_message_path == "/dev/termination-log"
    assert d.spec.template.spec.restart_policy == "Always" and d.spec.template.spec.dns_policy == "ClusterFirst"
    got = apps.read_namespaced_deployment("web", NS)
    assert got.metadata.resource_version == m.resource_version


@check("a new Deployment has an (empty) status object, as upstream's `status: {}`")
def _():
    status, body = raw("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/web")
    assert status == 200, status
    assert "status" in body, f"no status key in {sorted(body)}"


@check("create ConfigMaps with labels")
def _():
    for i in range(25):
        tier = ["a", "b", "c"][i % 3]
        labels = {"batch": "paging", "tier": tier}
        if i % 5 == 0:
            labels["skip"] = "yes"
        core.create_namespaced_config_map(NS, cm(f"page-{i:02d}", labels))
    assert len(cm_names(label_selector="batch=paging")) == 25


# --- label selectors ----------------------------------------------------------

@check("list with label selectors: equality, inequality, set-based, existence")
def _():
    every = [f"page-{i:02d}" for i in range(25)]
    tier = {n: ["a", "b", "c"][i % 3] for i, n in enumerate(every)}
    skip = {n for i, n in enumerate(every) if i % 5 == 0}
    cases = {
        "tier=a": [n for n in every if tier[n] == "a"],
        "tier==b,batch=paging": [n for n in every if tier[n] == "b"],
        "batch=paging,tier!=a": [n for n in every if tier[n] != "a"],
        "tier in (a,c),!skip": [n for n in every if tier[n] in "ac" and n not in skip],
        "tier notin (a),skip": [n for n in every if tier[n] != "a" and n in skip],
        "skip": sorted(skip),
        "tier=zzz": [],
    }
    for sel, want in cases.items():
        got = cm_names(label_selector=sel)
        assert got == sorted(want), f"{sel!r}: got {got}, want {sorted(want)}"
    return f"{len(cases)} selectors"


@check("list with a field selector metadata.name")
def _():
    assert cm_names(field_selector="metadata.name=page-03") == ["page-03"]
    assert cm_names(field_selector="metadata.name=page-03,metadata.namespace=" + NS) == ["page-03"]
    rest = cm_names(label_selector="batch=paging", field_selector="metadata.name!=page-03")
    assert len(rest) == 24 and "page-03" not in rest


@check("an invalid label selector is a 400 BadRequest")
def _():
    status, body = api_error(core.list_namespaced_config_map, NS, label_selector="tier in (a")
    assert status == 400, status
    assert_status(body, 400, "BadRequest")


# --- chunking -------------------------------------------------------------------

@check("list chunking: limit/_continue pages cover every item exactly once")
def _():
    seen, pages, token, remaining = [], [], None, []
    while True:
        kw = {"limit": 10, "label_selector": "batch=paging"}
        if token:
            kw["_continue"] = token
        page = core.list_namespaced_config_map(NS, **kw)
        pages.append(len(page.items))
        seen += [i.metadata.name for i in page.items]
        remaining.append(page.metadata.remaining_item_count)
        token = page.metadata._continue
        if not token:
            break
        assert len(pages) < 10, "continue tokens never end"
    assert pages == [10, 10, 5], f"page sizes {pages}"
    assert seen == sorted(seen) and len(set(seen)) == 25, seen
    return f"pages {pages}"


@check("list chunking without a selector reports remainingItemCount")
def _():
    first = core.list_namespaced_config_map(NS, limit=10)
    assert len(first.items) == 10 and first.metadata._continue
    total = len(core.list_namespaced_config_map(NS).items)
    assert first.metadata.remaining_item_count == total - 10, \
        f"remainingItemCount {first.metadata.remaining_item_count}, want {total - 10}"


@check("a continued list is a consistent snapshot (objects created later do not appear)")
def _():
    first = core.list_namespaced_config_map(NS, limit=10, label_selector="batch=paging")
    core.create_namespaced_config_map(NS, cm("page-99", {"batch": "paging", "tier": "a"}))
    try:
        rest, token = [], first.metadata._continue
        while token:
            page = core.list_namespaced_config_map(NS, limit=10, label_selector="batch=paging", _continue=token)
            assert page.metadata.resource_version == first.metadata.resource_version, \
                f"page RV {page.metadata.resource_version} != first RV {first.metadata.resource_version}"
            rest += [i.metadata.name for i in page.items]
            token = page.metadata._continue
        assert "page-99" not in rest and len(rest) == 15, rest
    finally:
        core.delete_namespaced_config_map("page-99", NS)


@check("a garbage continue token is a 400 BadRequest")
def _():
    status, body = api_error(core.list_namespaced_config_map, NS, limit=5, _continue="not-a-token")
    assert status == 400, status
    assert_status(body, 400, "BadRequest")


# --- watch ------------------------------------------------------------------------

@check("watch from a resourceVersion: every event, in order, with increasing resourceVersions")
def _():
    rv = core.list_namespaced_config_map(NS, label_selector="watch=yes").metadata.resource_version
    core.create_namespaced_config_map(NS, cm("w-a", {"watch": "yes"}))
    core.create_namespaced_config_map(NS, cm("w-b", {"watch": "yes"}))
    core.patch_namespaced_config_map("w-a", NS, {"data": {"k": "changed"}})
    core.delete_namespaced_config_map("w-b", NS)
    core.delete_namespaced_config_map("w-a", NS)
    want = [("ADDED", "w-a"), ("ADDED", "w-b"), ("MODIFIED", "w-a"), ("DELETED", "w-b"), ("DELETED", "w-a")]
    got, rvs = [], []
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_config_map, NS, label_selector="watch=yes",
                       resource_version=rv, timeout_seconds=5):
        got.append((ev["type"], ev["object"].metadata.name))
        rvs.append(int(ev["object"].metadata.resource_version))
        if len(got) == len(want):
            w.stop()
    assert got == want, f"events {got}"
    assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs), f"resourceVersions {rvs}"
    assert rvs[0] > int(rv)


@check("watch sends the object's new state with MODIFIED")
def _():
    rv = core.create_namespaced_config_map(NS, cm("w-c", {"watch": "state"})).metadata.resource_version
    core.patch_namespaced_config_map("w-c", NS, {"data": {"k": "v2"}})
    w = watch.Watch()
    ev = next(iter(w.stream(core.list_namespaced_config_map, NS, label_selector="watch=state",
                            resource_version=rv, timeout_seconds=5)), None)
    w.stop()
    core.delete_namespaced_config_map("w-c", NS)
    assert ev is not None, "no event within 5s"
    assert ev["type"] == "MODIFIED" and ev["object"].data == {"k": "v2"}, (ev["type"], ev["object"].data)


@check("watch with sendInitialEvents: the existing objects, then the initial-events-end bookmark")
def _():
    core.create_namespaced_config_map(NS, cm("w-init", {"watch": "initial"}))
    got = []
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_config_map, NS, label_selector="watch=initial",
                       send_initial_events=True, resource_version_match="NotOlderThan",
                       allow_watch_bookmarks=True, timeout_seconds=5):
        obj = ev["raw_object"]
        got.append((ev["type"], obj.get("metadata", {}).get("name"),
                    obj.get("metadata", {}).get("annotations", {}).get("k8s.io/initial-events-end")))
        if ev["type"] == "BOOKMARK":
            w.stop()
    core.delete_namespaced_config_map("w-init", NS)
    assert got == [("ADDED", "w-init", None), ("BOOKMARK", None, "true")], got


# --- errors -------------------------------------------------------------------------

@check("replace with a stale resourceVersion is a 409 Conflict")
def _():
    old = core.read_namespaced_config_map("page-01", NS)
    core.patch_namespaced_config_map("page-01", NS, {"metadata": {"labels": {"bumped": "yes"}}})
    old.data = {"k": "stale write"}
    status, body = api_error(core.replace_namespaced_config_map, "page-01", NS, old)
    assert status == 409, status
    assert_status(body, 409, "Conflict",
                  'Operation cannot be fulfilled on configmaps "page-01": the object has been modified; '
                  "please apply your changes to the latest version and try again")
    assert body.get("details", {}).get("name") == "page-01" and body["details"].get("kind") == "configmaps", body
    assert core.read_namespaced_config_map("page-01", NS).data == {"k": "page-01"}, "stale write landed"


@check("read of a missing object is a 404 NotFound")
def _():
    status, body = api_error(core.read_namespaced_config_map, "does-not-exist", NS)
    assert status == 404, status
    assert_status(body, 404, "NotFound", 'configmaps "does-not-exist" not found')
    assert body.get("details") == {"name": "does-not-exist", "kind": "configmaps"}, body.get("details")
    status, body = api_error(apps.read_namespaced_deployment, "nope", NS)
    assert status == 404
    assert_status(body, 404, "NotFound", 'deployments.apps "nope" not found')
    assert body.get("details") == {"name": "nope", "group": "apps", "kind": "deployments"}, body.get("details")


@check("duplicate create is a 409 AlreadyExists")
def _():
    status, body = api_error(core.create_namespaced_config_map, NS, cm("page-02"))
    assert status == 409, status
    assert_status(body, 409, "AlreadyExists", 'configmaps "page-02" already exists')
    assert body.get("details") == {"name": "page-02", "kind": "configmaps"}, body.get("details")


@check("an invalid name is a 422 Invalid with a metadata.name cause")
def _():
    status, body = api_error(core.create_namespaced_config_map, NS, cm("Bad_Name"))
    assert status == 422, status
    assert_status(body, 422, "Invalid")
    msg = body.get("message", "")
    assert msg.startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
                          "a lowercase RFC 1123 subdomain must consist of"), msg
    causes = body.get("details", {}).get("causes", [])
    assert any(c.get("field") == "metadata.name" and c.get("reason") == "FieldValueInvalid" for c in causes), causes
    assert body["details"].get("name") == "Bad_Name" and body["details"].get("kind") == "ConfigMap", body["details"]
    assert "Bad_Name" not in cm_names()


@check("a Deployment whose selector does not match its template is 422 Invalid")
def _():
    bad = api.sanitize_for_serialization(DEPLOY)
    bad["metadata"]["name"] = "mismatch"
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    status, body = api_error(apps.create_namespaced_deployment, NS, bad)
    assert status == 422, status
    assert_status(body, 422, "Invalid")
    fields = [c.get("field") for c in body.get("details", {}).get("causes", [])]
    assert "spec.template.metadata.labels" in fields, fields


# --- scale subresource ----------------------------------------------------------------

@check("scale subresource: read_namespaced_deployment_scale")
def _():
    s = apps.read_namespaced_deployment_scale("web", NS)
    assert s.kind == "Scale" and s.api_version == "autoscaling/v1", (s.kind, s.api_version)
    assert s.metadata.name == "web" and s.metadata.namespace == NS
    assert s.spec.replicas == 3, s.spec
    assert s.status.selector == "app=web", s.status


@check("scale subresource: patch_namespaced_deployment_scale changes spec.replicas")
def _():
    gen = apps.read_namespaced_deployment("web", NS).metadata.generation
    s = apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 5}})
    assert s.spec.replicas == 5, s.spec
    d = apps.read_namespaced_deployment("web", NS)
    assert d.spec.replicas == 5 and d.metadata.generation == gen + 1, (d.spec.replicas, d.metadata.generation)
    assert apps.read_namespaced_deployment_scale("web", NS).spec.replicas == 5


@check("scale subresource: replace with a stale resourceVersion is 409")
def _():
    s = apps.read_namespaced_deployment_scale("web", NS)
    apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 4}})
    s.spec.replicas = 7
    status, body = api_error(apps.replace_namespaced_deployment_scale, "web", NS, s)
    assert status == 409, status
    assert_status(body, 409, "Conflict")
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 4


# --- dynamic client -------------------------------------------------------------------

@check("dynamic client: discovery resolves apps/v1 Deployment and lists through it")
def _():
    dyn = DynamicClient(client.ApiClient())
    res = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert res.name == "deployments" and res.namespaced and res.group == "apps", (res.name, res.group)
    assert "scale" in res.subresources and "status" in res.subresources, list(res.subresources)
    lst = res.get(namespace=NS)
    assert lst.kind == "DeploymentList", lst.kind
    assert [i.metadata.name for i in lst.items] == ["web"], [i.metadata.name for i in lst.items]
    one = res.get(name="web", namespace=NS)
    assert one.spec.replicas == 4, one.spec.replicas
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    assert len(cms.get(namespace=NS, label_selector="tier=a").items) == 9
    crd = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    assert not crd.namespaced


# --- bad input ------------------------------------------------------------------------

CM_PATH = f"/api/v1/namespaces/{NS}/configmaps"


def nothing_created(name):
    status, _ = raw("GET", f"{CM_PATH}/{name}")
    assert status == 404, f"{name} exists after a rejected create (GET answered {status})"


@check("malformed JSON is a 400 BadRequest, changes nothing, server stays healthy")
def _():
    before = cm_names()
    status, body = raw("POST", CM_PATH, b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"broken"')
    assert status == 400, f"status {status}: {body}"
    assert_status(body, 400, "BadRequest")
    assert cm_names() == before
    nothing_created("broken")
    healthy()


@check("an unknown field under fieldValidation=Strict is a 400 BadRequest")
def _():
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "strict"}, "data": {}, "bogus": 1}
    status, err = raw("POST", CM_PATH + "?fieldValidation=Strict", body)
    assert status == 400, f"status {status}: {err}"
    assert_status(err, 400, "BadRequest")
    assert 'unknown field "bogus"' in err.get("message", ""), err.get("message")
    nothing_created("strict")
    healthy()


@check("an unknown field under the default (Warn) is accepted with a Warning header")
def _():
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "warned"}, "data": {}, "bogus": 1}
    headers = urllib3.HTTPHeaderDict()
    status, created = raw("POST", CM_PATH, body, headers_out=headers)
    assert status == 201, f"status {status}: {created}"
    warning = headers.get("Warning", "")
    assert warning.startswith("299 ") and 'unknown field \\"bogus\\"' in warning, f"Warning: {warning!r}"
    assert "bogus" not in created, created
    core.delete_namespaced_config_map("warned", NS)


@check("a 4 MiB body is a 413 RequestEntityTooLarge, changes nothing")
def _():
    big = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "huge"},
                      "data": {"blob": "x" * (4 * 1024 * 1024)}}).encode()
    status, body = raw("POST", CM_PATH, big)
    assert status == 413, f"status {status}: {str(body)[:300]}"
    assert_status(body, 413, "RequestEntityTooLarge")
    nothing_created("huge")
    healthy()


YAML_BOMB = """apiVersion: v1
kind: ConfigMap
metadata:
  name: bomb
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@check("a YAML bomb is a 400 BadRequest, quickly, changes nothing")
def _():
    start = time.monotonic()
    status, body = raw("POST", CM_PATH, YAML_BOMB.encode(), content_type="application/yaml")
    took = time.monotonic() - start
    assert status == 400, f"status {status}: {str(body)[:300]}"
    assert_status(body, 400, "BadRequest")
    nothing_created("bomb")
    healthy()
    return f"{took:.2f}s"


@check("a well-formed YAML body is accepted (the YAML path itself works)")
def _():
    status, body = raw("POST", CM_PATH, b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n",
                       content_type="application/yaml")
    assert status == 201, f"status {status}: {body}"
    assert core.read_namespaced_config_map("from-yaml", NS).data == {"k": "v"}
    core.delete_namespaced_config_map("from-yaml", NS)


@check("a body whose kind does not match the URL is a 400 BadRequest")
def _():
    status, body = raw("POST", CM_PATH, json.dumps({"apiVersion": "v1", "kind": "Secret",
                                                    "metadata": {"name": "wrongkind"}}).encode())
    assert status == 400, f"status {status}: {body}"
    assert_status(body, 400, "BadRequest")
    nothing_created("wrongkind")


@check("the server is healthy after all the bad input")
def _():
    healthy()
    assert len(cm_names(label_selector="batch=paging")) == 25


# --- cleanup --------------------------------------------------------------------------

@check("delete_collection of the labelled ConfigMaps")
def _():
    core.delete_collection_namespaced_config_map(NS, label_selector="batch=paging")
    assert cm_names(label_selector="batch=paging") == []


@check(f"delete namespace {NS}: it goes Terminating (no namespace controller runs here)")
def _():
    core.delete_namespace(NS)
    ns = core.read_namespace(NS)
    assert ns.metadata.deletion_timestamp is not None and ns.status.phase == "Terminating", ns.status


print(f"python client: {PASSED} passed, {FAILED} failed", flush=True)
sys.exit(1 if FAILED else 0)
