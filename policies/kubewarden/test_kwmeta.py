"""Tests of kwmeta.py on small modules written byte by byte (python3 -m unittest)."""

import json
import os
import tempfile
import unittest

import kwmeta


def leb(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def vec_name(text):
    return leb(len(text)) + text.encode()


def section(sid, body):
    return bytes([sid]) + leb(len(body)) + body


def module(exports=("__guest_call",)):
    """Imports wapc.__host_call (8 x i32 -> i32); exports functions of type (i32, i32) -> i32."""
    types = section(1, leb(2)
                    + b"\x60" + leb(8) + b"\x7f" * 8 + leb(1) + b"\x7f"
                    + b"\x60" + leb(2) + b"\x7f\x7f" + leb(1) + b"\x7f")
    imports = section(2, leb(1) + vec_name("wapc") + vec_name("__host_call") + b"\x00" + leb(0))
    funcs = section(3, leb(1) + leb(1))
    body = leb(len(exports))
    for name in exports:
        body += vec_name(name) + b"\x00" + leb(1)
    return kwmeta.MAGIC + kwmeta.CORE_VERSION + types + imports + funcs + section(7, body)


META = {"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                   "operations": ["CREATE"]}],
        "mutating": False, "annotations": {"io.kubewarden.policy.title": "t", "n": 1}}


class KwmetaTest(unittest.TestCase):
    def test_imports_and_exports_are_listed_with_signatures(self):
        info = kwmeta.describe(module())
        self.assertEqual(info["imports"], [{
            "module": "wapc", "name": "__host_call", "kind": "func",
            "type": "(i32, i32, i32, i32, i32, i32, i32, i32) -> (i32)"}])
        self.assertEqual(info["exports"], [{
            "name": "__guest_call", "kind": "func", "type": "(i32, i32) -> (i32)"}])
        self.assertIsNone(info["metadata"])

    def test_annotate_writes_the_metadata_with_kubewarden_defaults(self):
        info = kwmeta.describe(kwmeta.annotate(module(), META))
        self.assertEqual(info["customSections"], [kwmeta.SECTION])
        meta = info["metadata"]
        self.assertEqual(meta["protocolVersion"], "v1")
        self.assertEqual(meta["executionMode"], "kubewarden-wapc")
        self.assertEqual(meta["rules"], META["rules"])
        self.assertEqual(meta["annotations"]["n"], "1", "annotations are strings")
        self.assertIs(meta["mutating"], False)

    def test_annotating_again_replaces_the_section(self):
        once = kwmeta.annotate(module(), META)
        twice = kwmeta.annotate(once, dict(META, mutating=True))
        info = kwmeta.describe(twice)
        self.assertEqual(info["customSections"], [kwmeta.SECTION])
        self.assertIs(info["metadata"]["mutating"], True)
        self.assertEqual(len(twice), len(once) + len(b"true") - len(b"false"))

    def test_a_module_that_is_not_a_wapc_guest_is_refused(self):
        with self.assertRaisesRegex(kwmeta.WasmError, "no __guest_call"):
            kwmeta.annotate(module(exports=("validate",)), META)

    def test_a_component_is_refused(self):
        component = kwmeta.MAGIC + b"\x0d\x00\x01\x00"
        with self.assertRaisesRegex(kwmeta.WasmError, "component"):
            kwmeta.describe(component)

    def test_a_truncated_module_is_refused(self):
        with self.assertRaisesRegex(kwmeta.WasmError, "truncated"):
            kwmeta.describe(module()[:-3])

    def test_another_protocol_version_is_refused(self):
        with self.assertRaisesRegex(kwmeta.WasmError, "protocolVersion"):
            kwmeta.annotate(module(), dict(META, protocolVersion="v2"))

    def test_the_command_line_reads_yaml_or_json_metadata(self):
        with tempfile.TemporaryDirectory() as tmp:
            wasm, meta = os.path.join(tmp, "p.wasm"), os.path.join(tmp, "metadata.yml")
            with open(wasm, "wb") as f:
                f.write(module())
            with open(meta, "w", encoding="utf-8") as f:
                json.dump(META, f)
            self.assertEqual(kwmeta.main(["annotate", wasm, meta]), 0)
            with open(wasm, "rb") as f:
                self.assertEqual(kwmeta.describe(f.read())["metadata"]["rules"], META["rules"])


if __name__ == "__main__":
    unittest.main()
