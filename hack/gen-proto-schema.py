#!/usr/bin/env python3
"""Generate crates/apimachinery/src/protobuf_schema.json.

The apiserver decodes Kubernetes protobuf request bodies (what kubectl 1.33's
typed clients send) without generated Go or Rust types: it walks a table of
message layouts.  This script derives that table from two crates already in
the cargo registry, so every field number and JSON name is a fact taken from
upstream's generated bindings rather than typed by hand:

  * k8s-pb 0.9.0 (prost bindings of upstream's generated.proto files) gives
    each message's fields: tag, wire kind, repeated/map, nested message type.
  * k8s-openapi 0.29.0 (src/v1_33) gives the JSON property names of the
    matching OpenAPI definition, so the table holds `podIP`, `clusterIPs`,
    `x-kubernetes-list-type`, `$ref` ... rather than guesses from snake case.

Roots are every kind in crates/apimachinery/src/catalogue.rs, every GA
(vN) kind k8s-pb has a Resource impl for, and the request-only kinds listed
in EXTRA_ROOTS; the table holds every message reachable from them.

Regenerate (from the repository root) after changing the catalogue:

    cargo fetch --manifest-path <any scratch crate depending on
        k8s-pb = "=0.9.0" and k8s-openapi = { version = "=0.29.0",
        features = ["v1_33"] }>      # only if the sources are not there yet
    python3 hack/gen-proto-schema.py

Options: --k8s-pb DIR and --k8s-openapi DIR override the registry lookup;
--check exits 1 if the committed table is out of date.

Output shape (compact, one message per line):

    {"kinds": {"<apiVersion>/<Kind>": "<message>", ...},
     "messages": {"<message>": [[jsonName, tag, type, card], ...], ...}}

where <message> is the proto full name (k8s.io.api.core.v1.Pod), `type` is a
scalar (string, bytes, bool, int32, int64, double) or a message full name,
and `card` is "" (singular), "r" (repeated) or "m" (map from string to type).
"""

import argparse
import glob
import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "crates/apimachinery/src/protobuf_schema.json")
CATALOGUE = os.path.join(REPO, "crates/apimachinery/src/catalogue.rs")

# Kinds that are only ever request bodies (subresources, reviews, options),
# so they are not in the catalogue: (apiVersion, kind, k8s-pb module, message).
EXTRA_ROOTS = [
    ("policy/v1", "Eviction", "api/policy/v1", "Eviction"),
    ("authentication.k8s.io/v1", "TokenRequest", "api/authentication/v1", "TokenRequest"),
    ("authentication.k8s.io/v1", "TokenReview", "api/authentication/v1", "TokenReview"),
    ("authentication.k8s.io/v1", "SelfSubjectReview", "api/authentication/v1", "SelfSubjectReview"),
    ("authorization.k8s.io/v1", "SubjectAccessReview", "api/authorization/v1", "SubjectAccessReview"),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview", "api/authorization/v1", "SelfSubjectAccessReview"),
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview", "api/authorization/v1", "LocalSubjectAccessReview"),
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview", "api/authorization/v1", "SelfSubjectRulesReview"),
    ("autoscaling/v1", "Scale", "api/autoscaling/v1", "Scale"),
    ("meta.k8s.io/v1", "DeleteOptions", "apimachinery/pkg/apis/meta/v1", "DeleteOptions"),
]

SCALARS = {"string", "bytes", "bool", "int32", "int64", "double"}


def find_src(name, override):
    if override:
        return override
    hits = sorted(glob.glob(os.path.expanduser(f"~/.cargo/registry/src/*/{name}")))
    if not hits:
        sys.exit(f"{name} not found in ~/.cargo/registry/src; cargo fetch a crate depending on it")
    return hits[-1]


def proto_package(module):
    """k8s-pb module path (api/core/v1) -> proto package (k8s.io.api.core.v1)."""
    return "k8s.io." + module.replace("/", ".")


def norm(name):
    """Name key used to pair proto names with JSON names: drop `r#`, `_`,
    `-`, `$` and case, so cluster_i_ps == clusterIPs and ref == $ref."""
    if name.startswith("r#"):
        name = name[2:]
    return re.sub(r"[^0-9a-z]", "", name.lower())


def strip_wrappers(ty):
    """Reduce a prost field type to the element/value type path."""
    ty = ty.replace(" ", "").replace(",>", ">")
    m = re.fullmatch(r"::prost::alloc::collections::BTreeMap<[^,]+,(.*)>", ty)
    if m:
        ty = m.group(1)
    for wrapper in ("::core::option::Option<", "::prost::alloc::vec::Vec<", "::prost::alloc::boxed::Box<"):
        while ty.startswith(wrapper):
            ty = ty[len(wrapper):-1]
    return ty


def resolve(module, path):
    """Resolve a (possibly super::-relative) Rust path to a message full name."""
    parts = path.split("::")
    base = module.split("/")
    while parts and parts[0] == "super":
        parts.pop(0)
        base.pop()
    if parts and parts[0] == "crate":
        parts.pop(0)
        base = []
    return proto_package("/".join(base + parts[:-1])) + "." + parts[-1]


def parse_k8s_pb(root):
    """-> {message full name: [(snake, tag, type, card)]}"""
    messages = {}
    src = os.path.join(root, "src")
    for path in glob.glob(os.path.join(src, "**/mod.rs"), recursive=True):
        module = os.path.relpath(os.path.dirname(path), src)
        lines = open(path, encoding="utf-8").read().split("\n")
        current = None
        i = 0
        while i < len(lines):
            line = lines[i]
            m = re.match(r"pub struct (\w+) \{", line)
            if m:
                current = proto_package(module) + "." + m.group(1)
                messages[current] = []
            elif line == "}":
                current = None
            m = re.match(r"\s*#\[prost\((.*)\)\]\s*$", line)
            if m and current:
                attr = m.group(1)
                decl = ""
                while True:
                    i += 1
                    decl += lines[i].strip()
                    if decl.endswith(",") and decl.count("<") == decl.count(">"):
                        break
                fm = re.match(r"pub (r#\w+|\w+):(.*),$", decl)
                name, ty = fm.group(1), fm.group(2)
                tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
                mm = re.match(r'btree_map = "string, (\w+)"', attr)
                if mm:
                    card, kind = "m", mm.group(1)
                else:
                    kind = re.match(r"(\w+)", attr).group(1)
                    card = "r" if ", repeated" in attr else ""
                if kind == "message":
                    kind = resolve(module, strip_wrappers(ty))
                elif kind not in SCALARS:
                    sys.exit(f"{current}.{name}: unsupported prost kind {kind}")
                messages[current].append((name[2:] if name.startswith("r#") else name, tag, kind, card))
            i += 1
    return messages


def parse_k8s_openapi(root):
    """-> {normalised definition name: [json property names]}

    v1_33 is the release we serve; the later version modules only add names
    for fields k8s-pb (generated from a newer release) already carries."""
    defs = {}
    versions = sorted(
        (d for d in os.listdir(os.path.join(root, "src")) if re.fullmatch(r"v1_\d+", d)),
        key=lambda d: int(d[3:]),
    )
    for version in versions:
        for path in glob.glob(os.path.join(root, "src", version, "**/*.rs"), recursive=True):
            text = open(path, encoding="utf-8").read()
            m = re.match(r"// Generated from definition (\S+)", text)
            if not m:
                continue
            keys = defs.setdefault(norm(m.group(1)), [])
            for key in re.findall(r'^\s*"([^"]+)" => Field::Key_', text, re.M):
                if key not in keys:
                    keys.append(key)
    return defs


def openapi_name(message):
    """Proto full name -> normalised OpenAPI definition name."""
    name = message[len("k8s.io."):]
    return norm("io.k8s." + name)


def lower_camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def catalogue_kinds():
    text = open(CATALOGUE, encoding="utf-8").read()
    out = []
    for m in re.finditer(r'res!\(\s*"([^"]*)",\s*"([^"]+)",\s*"([^"]+)"', text):
        group, version, kind = m.groups()
        out.append((f"{group}/{version}" if group else version, kind))
    return out


def resource_impls(root):
    """-> {(apiVersion, kind): message full name} from k8s-pb's Resource impls."""
    out = {}
    src = os.path.join(root, "src")
    for path in glob.glob(os.path.join(src, "**/mod.rs"), recursive=True):
        module = os.path.relpath(os.path.dirname(path), src)
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(
            r'impl crate::Resource for (\w+) \{\s*const API_VERSION: &\'static str = "([^"]+)";'
            r'.*?const KIND: &\'static str = "([^"]+)";',
            text,
            re.S,
        ):
            out[(m.group(2), m.group(3))] = proto_package(module) + "." + m.group(1)
    return out


def build(pb_root, openapi_root):
    messages = parse_k8s_pb(pb_root)
    defs = parse_k8s_openapi(openapi_root)
    impls = resource_impls(pb_root)

    kinds = {}
    for api_version, kind in catalogue_kinds():
        msg = impls.get((api_version, kind))
        if not msg:
            sys.exit(f"no k8s-pb message for catalogue kind {api_version} {kind}")
        kinds[f"{api_version}/{kind}"] = msg
    # Every GA kind k8s-pb knows as well, so the table keeps up with a
    # catalogue that grows without regenerating it each time.
    for (api_version, kind), msg in impls.items():
        if re.search(r"(^|/)v\d+$", api_version):
            kinds.setdefault(f"{api_version}/{kind}", msg)
    for api_version, kind, module, name in EXTRA_ROOTS:
        kinds[f"{api_version}/{kind}"] = proto_package(module) + "." + name

    # Inlined members without an OpenAPI definition of their own (VolumeSource)
    # take their JSON names from the parent's; a second pass sees them all.
    inherited = {}
    for _ in range(2):
        table, unmatched = walk(messages, defs, kinds, inherited)
    for line in unmatched:
        print(f"warning: no OpenAPI property for {line}", file=sys.stderr)
    return kinds, table


def walk(messages, defs, kinds, inherited):
    table = {}
    pending = list(kinds.values())
    unmatched = []
    while pending:
        msg = pending.pop()
        if msg in table:
            continue
        if msg not in messages:
            sys.exit(f"message {msg} not found in k8s-pb")
        json_keys = defs.get(openapi_name(msg)) or inherited.get(msg)
        by_norm = {norm(k): k for k in json_keys or []}
        fields = []
        for snake, tag, kind, card in messages[msg]:
            if json_keys is not None and norm(snake) in by_norm:
                json_name = by_norm[norm(snake)]
            elif json_keys and kind not in SCALARS and not card and inlined(messages, defs, kind, by_norm):
                # A Go embedded struct (`json:",inline"`): a nested message on
                # the wire, its fields merged into the parent in JSON.
                json_name = ""
                if not defs.get(openapi_name(kind)):
                    inherited[kind] = json_keys
            else:
                # No OpenAPI definition (proto-only helper types such as
                # ExtraValue) or a field OpenAPI leaves out.
                json_name = lower_camel(snake)
                if json_keys:
                    unmatched.append(f"{msg}.{snake} -> {json_name}")
            fields.append([json_name, tag, kind, card])
            if kind not in SCALARS:
                pending.append(kind)
        table[msg] = sorted(fields, key=lambda f: f[1])
    return table, unmatched


def inlined(messages, defs, kind, parent_keys):
    """Whether every field of message `kind` (recursively through its own
    inlined members) is a JSON property of the parent."""
    own = {norm(k) for k in defs.get(openapi_name(kind)) or []}
    fields = messages.get(kind) or []
    if not fields:
        return False
    for snake, _, sub, card in fields:
        if norm(snake) in parent_keys:
            continue
        if sub not in SCALARS and not card and norm(snake) not in own and inlined(messages, defs, sub, parent_keys):
            continue
        return False
    return True


def render(kinds, table):
    out = ['{"kinds": {']
    items = sorted(kinds.items())
    for i, (k, v) in enumerate(items):
        out.append(f"  {json.dumps(k)}: {json.dumps(v)}" + ("," if i + 1 < len(items) else ""))
    out.append('}, "messages": {')
    items = sorted(table.items())
    for i, (k, v) in enumerate(items):
        body = json.dumps(v, separators=(",", ":"))
        out.append(f"  {json.dumps(k)}: {body}" + ("," if i + 1 < len(items) else ""))
    out.append("}}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k8s-pb")
    ap.add_argument("--k8s-openapi")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    pb_root = find_src("k8s-pb-0.9.0", args.k8s_pb)
    openapi_root = find_src("k8s-openapi-0.29.0", args.k8s_openapi)
    kinds, table = build(pb_root, openapi_root)
    text = render(kinds, table)
    if args.check:
        current = open(OUT, encoding="utf-8").read() if os.path.exists(OUT) else ""
        if current != text:
            sys.exit(f"{OUT} is out of date; run hack/gen-proto-schema.py")
        return
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {OUT}: {len(kinds)} kinds, {len(table)} messages, "
          f"{sum(len(v) for v in table.values())} fields, {len(text)} bytes")


if __name__ == "__main__":
    main()
