#!/usr/bin/env python3
"""Reads and writes the Kubewarden metadata of a waPC policy module (standard library only).

  kwmeta.py show MODULE.wasm [--json]
      the module's imports and exports (with their signatures), its custom sections and the
      `io.kubewarden.metadata` JSON when present.
  kwmeta.py annotate MODULE.wasm metadata.yml [-o OUT.wasm]
      writes `io.kubewarden.metadata` (JSON, camelCase, as Kubewarden's policy server and
      `kwctl annotate` have it) into the module, replacing any earlier one.

`annotate` refuses a module that is not a waPC guest (no `__guest_call` export, or a
component). `protocolVersion` defaults to "v1" (what every kubewarden-policy-sdk build answers
to `protocol_version`) and `executionMode` to "kubewarden-wapc". metadata.yml is read with
PyYAML when it is installed (Debian: python3-yaml); JSON, being YAML, always works.
"""

import argparse
import json
import sys

MAGIC = b"\0asm"
CORE_VERSION = b"\x01\0\0\0"
SECTION = "io.kubewarden.metadata"
VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128",
            0x70: "funcref", 0x6F: "externref"}
KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


class WasmError(Exception):
    """The bytes are not a module this tool can read."""


class Reader:
    """A cursor over a byte string with the LEB128 and vector readers wasm needs."""

    def __init__(self, data, pos=0, end=None):
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def byte(self):
        if self.pos >= self.end:
            raise WasmError("truncated module")
        self.pos += 1
        return self.data[self.pos - 1]

    def leb(self):
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result
            if shift > 63:
                raise WasmError("LEB128 number too long")

    def raw(self, n):
        if self.pos + n > self.end:
            raise WasmError("truncated module")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def name(self):
        return self.raw(self.leb()).decode("utf-8")

    def limits(self):
        flags = self.byte()
        low = self.leb()
        high = self.leb() if flags & 1 else None
        return low, high


def sections(data):
    """(id, start, end) of every section, after checking that this is a core module."""
    if data[:4] != MAGIC:
        raise WasmError("not a WebAssembly binary")
    if data[4:8] != CORE_VERSION:
        raise WasmError("not a core module (a component?): Kubewarden policies are core modules")
    reader, found = Reader(data, 8), []
    while reader.pos < len(data):
        sid, size = reader.byte(), reader.leb()
        found.append((sid, reader.pos, reader.pos + size))
        reader.raw(size)
    return found


def signature(types, index):
    params, results = types[index]
    return "(%s) -> (%s)" % (", ".join(params), ", ".join(results))


def describe(data):
    """Imports, exports and custom sections of a core module, and its Kubewarden metadata."""
    types, func_types, imports, exports, customs, metadata = [], [], [], [], [], None
    for sid, start, end in sections(data):
        r = Reader(data, start, end)
        if sid == 0:
            name = r.name()
            customs.append(name)
            if name == SECTION:
                metadata = json.loads(data[r.pos:end])
        elif sid == 1:
            for _ in range(r.leb()):
                if r.byte() != 0x60:
                    raise WasmError("unsupported type form")
                params = [VALTYPES.get(r.byte(), "?") for _ in range(r.leb())]
                results = [VALTYPES.get(r.byte(), "?") for _ in range(r.leb())]
                types.append((params, results))
        elif sid == 2:
            for _ in range(r.leb()):
                module, field, kind = r.name(), r.name(), r.byte()
                entry = {"module": module, "name": field, "kind": KINDS.get(kind, "?")}
                if kind == 0:
                    index = r.leb()
                    func_types.append(index)
                    entry["type"] = signature(types, index)
                elif kind == 1:
                    r.byte()
                    r.limits()
                elif kind == 2:
                    entry["limits"] = r.limits()
                elif kind == 3:
                    r.byte()
                    r.byte()
                elif kind == 4:
                    r.byte()
                    r.leb()
                imports.append(entry)
        elif sid == 3:
            func_types.extend(r.leb() for _ in range(r.leb()))
        elif sid == 7:
            for _ in range(r.leb()):
                field, kind, index = r.name(), r.byte(), r.leb()
                entry = {"name": field, "kind": KINDS.get(kind, "?")}
                if kind == 0 and index < len(func_types):
                    entry["type"] = signature(types, func_types[index])
                exports.append(entry)
    return {"imports": imports, "exports": exports, "customSections": customs,
            "metadata": metadata}


def custom_section(name, payload):
    def leb(n):
        out = bytearray()
        while True:
            b, n = n & 0x7F, n >> 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)
    body = leb(len(name.encode())) + name.encode() + payload
    return b"\0" + leb(len(body)) + body


def without_metadata(data):
    """The module with every earlier `io.kubewarden.metadata` section left out."""
    out, header = bytearray(data[:8]), 8
    for sid, start, end in sections(data):
        # Sections are contiguous: this one's header starts where the previous one ended.
        if not (sid == 0 and Reader(data, start, end).name() == SECTION):
            out += data[header:end]
        header = end
    return bytes(out)


def load_metadata(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        import yaml  # PyYAML: Debian python3-yaml
    except ImportError:
        try:
            return json.loads(text)
        except ValueError:
            sys.exit("kwmeta: %s is YAML and PyYAML is not installed "
                     "(apt-get install python3-yaml, or pip install pyyaml)" % path)
    return yaml.safe_load(text)


def metadata_json(meta):
    if not isinstance(meta, dict):
        raise WasmError("metadata must be a mapping")
    meta = dict(meta)
    meta.setdefault("protocolVersion", "v1")
    meta.setdefault("executionMode", "kubewarden-wapc")
    meta.setdefault("rules", [])
    meta.setdefault("mutating", False)
    if meta["protocolVersion"] != "v1":
        raise WasmError("protocolVersion must be v1")
    if not isinstance(meta["mutating"], bool):
        raise WasmError("mutating must be true or false")
    annotations = meta.get("annotations") or {}
    meta["annotations"] = {str(k): str(v) for k, v in annotations.items()}
    return json.dumps(meta, separators=(",", ":"), sort_keys=True).encode()


def annotate(data, meta):
    exports = {e["name"] for e in describe(data)["exports"]}
    if "__guest_call" not in exports:
        raise WasmError("not a waPC guest: no __guest_call export")
    return without_metadata(data) + custom_section(SECTION, metadata_json(meta))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="imports, exports, custom sections, metadata")
    show.add_argument("module")
    show.add_argument("--json", action="store_true", help="as one JSON document")
    ann = sub.add_parser("annotate", help="write io.kubewarden.metadata")
    ann.add_argument("module")
    ann.add_argument("metadata")
    ann.add_argument("-o", "--output", help="default: rewrite MODULE in place")
    args = parser.parse_args(argv)
    with open(args.module, "rb") as f:
        data = f.read()
    try:
        if args.command == "annotate":
            out = annotate(data, load_metadata(args.metadata))
            with open(args.output or args.module, "wb") as f:
                f.write(out)
            return 0
        info = describe(data)
    except (WasmError, UnicodeDecodeError, ValueError) as e:
        sys.exit("kwmeta: %s: %s" % (args.module, e))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for i in info["imports"]:
        print("import %s.%s %s %s" % (i["module"], i["name"], i["kind"], i.get("type", "")))
    for e in info["exports"]:
        print("export %s %s %s" % (e["name"], e["kind"], e.get("type", "")))
    print("custom sections: %s" % ", ".join(info["customSections"]))
    if info["metadata"] is not None:
        print("%s: %s" % (SECTION, json.dumps(info["metadata"], sort_keys=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
