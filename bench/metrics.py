#!/usr/bin/env python3
"""Figures for bench/accuracy and bench/throughput (python3 standard library only).

  metrics.py accuracy --labels test.tsv [--mailsift scan.jsonl]
                      [--bogofilter-terse bogo-T.txt --bogofilter-scores bogo-TT.txt]
                      [--json-out FILE]
      ROC AUC; spam recall at ham false-positive rate <= 0.1% and <= 1% (best threshold on the
      score); recall and FP rate of each filter's default decision.
      mailsift: score = "score", flagged = action != "no action".
      bogofilter: score = spamicity from -TT, flagged = class S from -T (U is not flagged;
      the "S+U" row counts unsure as flagged too).
      A message without a result (error object, missing line) gets the lowest score and is not
      flagged, so failures cost recall and never hide as false positives.

  metrics.py latency scan.jsonl
      p50/p90/p99/max of "elapsed_us" over messages without error.

Input formats: labels = path<TAB>label<TAB>name (bench/corpus.sh); mailsift = `scan --json`
lines {"path","score","action","spam_probability","elapsed_us"} or {"path","error"};
bogofilter = `bogofilter -T -B` ("path S|H|U score") and `-TT -B` ("path score").
"""
import argparse
import json
import math
import sys

LOW = -math.inf


def read_labels(path):
    labels = {}
    with open(path) as f:
        for line in f:
            p, label, _name = line.rstrip("\n").split("\t")
            labels[p] = label
    return labels


def read_mailsift(path):
    """path -> record dict; also returns count of lines that are not JSON."""
    out, bad = {}, 0
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(rec, dict) and "path" in rec:
                out[rec["path"]] = rec
            else:
                bad += 1
    return out, bad


def read_bogofilter(path, fields):
    """path -> tuple of the trailing fields (bogofilter prints "path f1 [f2]")."""
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").rsplit(" ", fields)
            if len(parts) == fields + 1:
                out[parts[0]] = parts[1:]
    return out


def roc_auc(pairs):
    """pairs: [(score, is_spam)]. Mann-Whitney U with average ranks for ties."""
    n_spam = sum(1 for _, s in pairs if s)
    n_ham = len(pairs) - n_spam
    if n_spam == 0 or n_ham == 0:
        return float("nan")
    ordered = sorted(pairs, key=lambda p: p[0])
    rank_sum, i = 0.0, 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j][0] == ordered[i][0]:
            j += 1
        avg_rank = (i + 1 + j) / 2.0  # ranks i+1..j
        rank_sum += avg_rank * sum(1 for k in range(i, j) if ordered[k][1])
        i = j
    return (rank_sum - n_spam * (n_spam + 1) / 2.0) / (n_spam * n_ham)


def recall_at_fpr(pairs, max_fpr):
    """Best spam recall over thresholds t (flag score >= t) with ham FPR <= max_fpr.
    Returns (recall, threshold, false_positives)."""
    n_spam = sum(1 for _, s in pairs if s)
    n_ham = len(pairs) - n_spam
    allowed_fp = math.floor(max_fpr * n_ham + 1e-9)
    ordered = sorted(pairs, key=lambda p: p[0], reverse=True)
    best = (0.0, math.inf, 0)
    tp = fp = 0
    i = 0
    while i < len(ordered):
        j, score = i, ordered[i][0]
        while j < len(ordered) and ordered[j][0] == score:
            tp += ordered[j][1]
            fp += not ordered[j][1]
            j += 1
        if fp > allowed_fp or score == LOW:
            break
        best = (tp / n_spam if n_spam else float("nan"), score, fp)
        i = j
    return best


def evaluate(name, labels, score_of, flagged_of):
    """score_of/flagged_of: path -> value or None (no result)."""
    pairs, tp, fp, errors = [], 0, 0, 0
    for path, label in labels.items():
        is_spam = label == "spam"
        score = score_of(path)
        if score is None:
            errors += 1
            score = LOW
        pairs.append((score, is_spam))
        if flagged_of(path):
            tp += is_spam
            fp += not is_spam
    n_spam = sum(1 for _, s in pairs if s)
    n_ham = len(pairs) - n_spam
    r01, t01, fp01 = recall_at_fpr(pairs, 0.001)
    r1, t1, fp1 = recall_at_fpr(pairs, 0.01)
    return {
        "system": name, "ham": n_ham, "spam": n_spam, "errors": errors,
        "auc": roc_auc(pairs),
        "recall_at_fpr_0.1%": r01, "threshold_at_fpr_0.1%": t01, "fp_at_fpr_0.1%": fp01,
        "recall_at_fpr_1%": r1, "threshold_at_fpr_1%": t1, "fp_at_fpr_1%": fp1,
        "default_recall": tp / n_spam if n_spam else float("nan"),
        "default_fpr": fp / n_ham if n_ham else float("nan"),
        "default_fp": fp, "default_fn": n_spam - tp,
    }


def pct(x):
    return "   n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:6.2f}%"


def print_table(rows):
    head = (f"{'system':<24} {'ham':>5} {'spam':>5} {'err':>4} {'ROC AUC':>8} "
            f"{'R@FPR<=0.1%':>12} {'R@FPR<=1%':>10} | {'default: recall':>15} {'FPR':>7} "
            f"{'FP':>4} {'FN':>4}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['system']:<24} {r['ham']:>5} {r['spam']:>5} {r['errors']:>4} "
              f"{r['auc']:8.5f} {pct(r['recall_at_fpr_0.1%']):>12} {pct(r['recall_at_fpr_1%']):>10} | "
              f"{pct(r['default_recall']):>15} {pct(r['default_fpr']):>7} "
              f"{r['default_fp']:>4} {r['default_fn']:>4}")
    print()
    for r in rows:
        print(f"  {r['system']}: threshold for FPR<=0.1%: {r['threshold_at_fpr_0.1%']:.6g} "
              f"({r['fp_at_fpr_0.1%']} FP); for FPR<=1%: {r['threshold_at_fpr_1%']:.6g} "
              f"({r['fp_at_fpr_1%']} FP)")


def cmd_accuracy(args):
    labels = read_labels(args.labels)
    rows = []
    if args.mailsift:
        recs, bad = read_mailsift(args.mailsift)
        missing = [p for p in labels if p not in recs]
        failed = [p for p in labels if p in recs and "error" in recs[p]]

        def ok(p):
            r = recs.get(p)
            return r if r is not None and "error" not in r and "score" in r else None

        rows.append(evaluate(
            "mailsift", labels,
            lambda p: float(ok(p)["score"]) if ok(p) else None,
            lambda p: bool(ok(p)) and ok(p).get("action", "no action") != "no action"))
        with_prob = {p for p in labels if ok(p) and ok(p).get("spam_probability") is not None}
        if with_prob:
            rows.append(evaluate(
                "mailsift spam_probability", labels,
                lambda p: float(ok(p)["spam_probability"]) if p in with_prob else None,
                lambda p: False))
            rows[-1].update(default_recall=None, default_fpr=None, default_fp="-", default_fn="-",
                            note="no decision of its own: default columns n/a; messages "
                                 "without a probability score lowest")
        print(f"mailsift: {len(recs)} results, {len(failed)} errors, {len(missing)} missing, "
              f"{bad} unparsable lines")
        for p in failed[:5]:
            print(f"  error: {p}: {recs[p]['error']}")
        actions = {}
        for p, label in labels.items():
            a = ok(p).get("action", "?") if ok(p) else "(error)"
            actions.setdefault(a, {"ham": 0, "spam": 0})[label] += 1
        print("  actions (ham / spam): " + ", ".join(
            f"{a}: {c['ham']} / {c['spam']}" for a, c in sorted(actions.items())))
    if args.bogofilter_terse and args.bogofilter_scores:
        terse = read_bogofilter(args.bogofilter_terse, 2)
        scores = read_bogofilter(args.bogofilter_scores, 1)

        def bscore(p):
            try:
                return float(scores[p][0])
            except (KeyError, ValueError):
                return None

        rows.append(evaluate("bogofilter", labels, bscore,
                             lambda p: terse.get(p, ["?"])[0] == "S"))
        rows.append(evaluate("bogofilter (S+U flagged)", labels, bscore,
                             lambda p: terse.get(p, ["?"])[0] in ("S", "U")))
        classes = {}
        for p, label in labels.items():
            c = terse.get(p, ["(none)"])[0]
            classes.setdefault(c, {"ham": 0, "spam": 0})[label] += 1
        print("bogofilter classes (ham / spam): " + ", ".join(
            f"{c}: {v['ham']} / {v['spam']}" for c, v in sorted(classes.items())))
    if not rows:
        sys.exit("metrics.py: nothing to evaluate")
    print()
    print_table(rows)
    for r in rows:
        if r.get("note"):
            print(f"  {r['system']}: {r['note']}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(rows, f, indent=2, default=str)


def percentile(sorted_values, q):
    """Nearest-rank percentile."""
    if not sorted_values:
        return float("nan")
    k = max(0, math.ceil(q / 100.0 * len(sorted_values)) - 1)
    return sorted_values[k]


def cmd_latency(args):
    recs, bad = read_mailsift(args.jsonl)
    values = sorted(int(r["elapsed_us"]) for r in recs.values()
                    if "error" not in r and r.get("elapsed_us") is not None)
    errors = sum(1 for r in recs.values() if "error" in r)
    print(f"messages {len(values)} (errors {errors}, unparsable lines {bad})")
    if values:
        print(f"per-message engine time (elapsed_us): p50 {percentile(values, 50)} us, "
              f"p90 {percentile(values, 90)} us, p99 {percentile(values, 99)} us, "
              f"max {values[-1]} us, mean {sum(values) / len(values):.0f} us")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    acc = sub.add_parser("accuracy")
    acc.add_argument("--labels", required=True)
    acc.add_argument("--mailsift")
    acc.add_argument("--bogofilter-terse")
    acc.add_argument("--bogofilter-scores")
    acc.add_argument("--json-out")
    acc.set_defaults(func=cmd_accuracy)
    lat = sub.add_parser("latency")
    lat.add_argument("jsonl")
    lat.set_defaults(func=cmd_latency)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
