#!/usr/bin/env python3
"""Top functions of a V8 .cpuprofile (node --cpu-prof run-in-v8.mjs ...):
self and inclusive time as a share of `profile_run`, the request loop.

usage: summarize_cpuprofile.py FILE.cpuprofile [TOP]
"""

import collections
import json
import sys


def shares(profile):
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", [])}
    own, inclusive = collections.Counter(), collections.Counter()
    for node in profile["nodes"]:
        hits = node.get("hitCount", 0)
        if not hits:
            continue
        own[node["callFrame"]["functionName"] or "(anonymous)"] += hits
        seen, current = set(), node["id"]
        while current is not None:
            name = nodes[current]["callFrame"]["functionName"] or "(anonymous)"
            if name not in seen:
                inclusive[name] += hits
                seen.add(name)
            current = parent.get(current)
    return own, inclusive


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    top = int(argv[2]) if len(argv) > 2 else 25
    own, inclusive = shares(json.load(open(argv[1])))
    loop = inclusive.get("profile_run") or sum(own.values())
    for title, counter in (("self", own), ("inclusive", inclusive)):
        print(f"--- {title}, % of profile_run")
        for name, hits in counter.most_common(top):
            print(f"{hits / loop * 100:6.1f}%  {name[:140]}")


if __name__ == "__main__":
    main(sys.argv)
