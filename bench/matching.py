"""Alert text -> system with 1,000 systems: the one-pass RE2 matcher beside the floor.

The floor is the work the matcher replaces, measured in the same run: a linear scan of the
same 1,000 rules compiled with Python's `re` (stopping at the first match, as matching did).
Also printed: status and fingerprint per text, and the pathological texts of issue 11.

    python -m bench.matching [--quick] [--systems N]
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable

from bench.common import registry_yaml, report
from bot.matching import fingerprint, match_system, status_of
from bot.registry import ChannelId, parse_registry

CHANNEL = ChannelId("slack", "C00000000")


def texts(systems: int) -> dict[str, list[str]]:
    """Alert texts by kind: one system named early, late, or none."""
    body = "\n".join(f"label_{i}: value {i * 7} on host-{i % 13}" for i in range(60))
    return {
        "matches (short)": [
            f"[FIRING:1] sys-{(i * 37) % systems} p99 latency above 2s on prod" for i in range(50)
        ],
        "matches (4 KB, name last)": [
            f"{body}\nsystem: sys-{(i * 53) % systems}" for i in range(50)
        ],
        "no system (short)": [f"[FIRING:1] disk full on host-{i} at 92%" for i in range(50)],
        "no system (4 KB)": [f"[FIRING:{i}] unknown\n{body}" for i in range(50)],
    }


def per_text(work: Callable[[str], object], sample: list[str], repeat: int) -> float:
    """Mean seconds per text over `repeat` passes of the sample."""
    started = time.perf_counter()
    for _ in range(repeat):
        for text in sample:
            work(text)
    return (time.perf_counter() - started) / (repeat * len(sample))


def main() -> None:
    """Run and print the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--systems", type=int, default=1000)
    args = parser.parse_args()
    repeat = 3 if args.quick else 20

    started = time.perf_counter()
    registry = parse_registry(registry_yaml(args.systems), source="bench.yaml")
    load_s = time.perf_counter() - started
    rules = [re.compile(r.pattern, re.IGNORECASE) for s in registry.ordered for r in s.match]

    def floor(text: str) -> bool:
        return any(p.search(text) for p in rules)

    def matcher(text: str) -> object:
        return match_system(registry, channel=CHANNEL, text=text)

    rows: list[tuple[str, str]] = [
        ("systems / rules", f"{args.systems} / {len(rules)}"),
        ("registry load incl. RE2 set compile", f"{load_s * 1000:.0f} ms"),
    ]
    data: dict[str, object] = {"systems": args.systems, "rules": len(rules), "load_s": load_s}
    for kind, sample in texts(args.systems).items():
        ours = per_text(matcher, sample, repeat)
        base = per_text(floor, sample, max(1, repeat // 4))
        rows.append(
            (
                f"match, {kind}",
                f"{ours * 1e6:8.1f} µs   floor (re scan) {base * 1e6:8.1f} µs"
                f"   ratio {ours / base:.3f}",
            )
        )
        data[kind] = {"matcher_s": ours, "floor_s": base}
    sample = texts(args.systems)["matches (4 KB, name last)"]
    both = per_text(lambda t: (status_of(t), fingerprint(t, system="x")), sample, repeat)
    rows.append(("status + fingerprint, 4 KB text", f"{both * 1e6:8.1f} µs"))
    data["status_fingerprint_s"] = both

    nasty = {
        "'[firing on' + 8,000 spaces": "[firing on" + " " * 8000,
        "'status' + 20,000 colons": "status" + ":" * 20000,
        "8,000 punctuation-only lines": "\n".join("!?.,;:-" for _ in range(8000)),
    }
    for name, text in nasty.items():
        t = per_text(lambda x: (matcher(x), status_of(x), fingerprint(x, system="x")), [text], 3)
        rows.append((f"match + status + fingerprint, {name}", f"{t * 1e3:8.2f} ms"))
        data[name] = t
    report("matching", rows, data)


if __name__ == "__main__":
    main()
