#!/usr/bin/env python3
"""Writes each fuzz target's seed corpus from the project's own test fixtures.

Usage: fuzz/seed.py OUT_DIR   (creates OUT_DIR/<target>/ with one file per seed)

The seeds are read at run time, so they follow the fixtures as the tests change:
- reference:        every vector in webhook/tests/data/references.json and every image
                    written in the review fixtures;
- admission_review: webhook/tests/data/reviews/*.json;
- www_authenticate: the header values in the challenge parser's test table and the fake
                    registry's challenges;
- registry_error:   the error bodies and Retry-After values in the registry error tests;
- policy_output:    the answers in the policy contract tests and WAT test policies, and the
                    expected answers in policies/*/cases.yaml (needs PyYAML; skipped without).
"""
import glob
import hashlib
import json
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def tests_part(path):
    """The `#[cfg(test)]` part of a source file (its table of cases)."""
    text = read(path)
    return text[text.find("#[cfg(test)]"):]


def raw_strings(text):
    return re.findall(r'b?r#"(.*?)"#', text, re.S)


def plain_strings(text):
    """Non-raw string literals, unescaped."""
    text = re.sub(r'b?r#".*?"#', "", text, flags=re.S)
    found = re.findall(r'"((?:[^"\\\n]|\\.)*)"', text)
    return [s.replace('\\"', '"').replace("\\\\", "\\") for s in found]


def images_in(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "image" and isinstance(item, str):
                yield item
            else:
                yield from images_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from images_in(item)


def reference_seeds():
    seeds = [v["input"] for v in json.loads(read("webhook/tests/data/references.json"))]
    for path in sorted(glob.glob(os.path.join(ROOT, "webhook/tests/data/reviews/*.json"))):
        with open(path, encoding="utf-8") as f:
            seeds.extend(images_in(json.load(f)))
    return seeds


def review_seeds():
    seeds = []
    for path in sorted(glob.glob(os.path.join(ROOT, "webhook/tests/data/reviews/*.json"))):
        with open(path, "rb") as f:
            seeds.append(f.read())
    return seeds


def challenge_seeds():
    table = tests_part("webhook/src/registry/challenge.rs")
    header = re.compile(r"(?i)(bearer|basic|negotiate)\b")
    seeds = [s for s in raw_strings(table) + plain_strings(table) if header.match(s)]
    seeds.append('=,=,"')
    fake = read("webhook/tests/registry_support/mod.rs")
    for template in raw_strings(fake):
        if header.match(template):
            seeds.append(template.replace("{}", "http://127.0.0.1:5000").replace("{repo}", "library/app"))
    # Several values of one response, as parse_all receives them (one per line).
    seeds.append("\n".join(seeds[:3]))
    return seeds


def error_seeds():
    tests = tests_part("webhook/src/registry/errors.rs")
    seeds = [s for s in raw_strings(tests) if '"errors"' in s]
    seeds += re.findall(r'parse_retry_after\("([^"]*)"\)', tests)
    seeds += ["", "oops", "<html>"]
    return seeds


def output_seeds():
    seeds = []
    for path in ("webhook/src/policy/tests.rs", "webhook/tests/policy_support/mod.rs"):
        for s in raw_strings(read(path)):
            if '"allowed"' in s or '"error"' in s:
                s = s.replace("{{", "{").replace("}}", "}").replace("{warning}", "w")
                seeds.append(s.replace('"{}"', '"x"'))
    try:
        import yaml
    except ImportError:
        print("seed.py: PyYAML missing, no policy_output seeds from cases.yaml", file=sys.stderr)
        return seeds
    for path in sorted(glob.glob(os.path.join(ROOT, "policies/*/cases.yaml"))):
        with open(path, encoding="utf-8") as f:
            for case in yaml.safe_load(f)["cases"]:
                expect = dict(case["expect"])
                if "allowed" not in expect:
                    continue
                if "warning" in expect:
                    expect["warnings"] = [expect.pop("warning")]
                seeds.append(json.dumps(expect))
    return seeds


def write(out, target, seeds):
    directory = os.path.join(out, target)
    os.makedirs(directory, exist_ok=True)
    for seed in seeds:
        data = seed if isinstance(seed, bytes) else seed.encode("utf-8")
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    print(f"seed.py: {target}: {len(set(seeds))} seeds", file=sys.stderr)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    write(out, "reference", reference_seeds())
    write(out, "admission_review", review_seeds())
    write(out, "www_authenticate", challenge_seeds())
    write(out, "registry_error", error_seeds())
    write(out, "policy_output", output_seeds())


if __name__ == "__main__":
    main()
