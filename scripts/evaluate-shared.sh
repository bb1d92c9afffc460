#!/usr/bin/env bash
# evaluate-shared.sh: measure vigil's models on the shared evaluation data and print
# one summary (markdown tables) on stdout. Progress goes to stderr.
#
#   scripts/evaluate-shared.sh            # data in ../shared/data relative to the repo
#   VIGIL_SHARED_DATA=/data scripts/evaluate-shared.sh
#   VIGIL_EVAL_SEEDS="0" scripts/evaluate-shared.sh   # fewer seeds, faster
#
# Parts (each skipped with a message when its data is absent; exit 0 if all are):
#   a. NSL-KDD: train on KDDTrain+_20Percent, evaluate on KDDTest+ and KDDTest-21, per
#      seed, next to scikit-learn (../shared/bench/sklearn_nslkdd.py, seeds 0-2 fixed).
#   b. lab: train on lab/baseline.pcap, evaluate lab/mixed.pcap and lab-insider/mixed.pcap.
#   c. scans: Slips and ESnet captures (labeled per file, test7 with scripts/labels/)
#      against benign CIC-IDS2017 Monday packets the model did not train on.
#
# Everything is written to one temporary directory, removed on exit. Needs go and
# python3 (Debian's /usr/bin/python3 is preferred; python3-sklearn for the sklearn rows).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=${VIGIL_SHARED_DATA:-$repo/../shared/data}
seeds=${VIGIL_EVAL_SEEDS:-0 1 2}
py=/usr/bin/python3
[ -x "$py" ] || py=python3

# train and evaluate read VIGIL_<FLAG> from the environment: run them on their
# defaults plus the flags given here, whatever the caller's shell holds.
while IFS= read -r v; do
	unset "$v"
done < <(compgen -e | grep '^VIGIL_' || true)

say() { printf '%s\n' "$*" >&2; }

if [ ! -d "$data" ]; then
	say "evaluate-shared: no shared data at $data (set VIGIL_SHARED_DATA); nothing to do"
	exit 0
fi
data=$(cd "$data" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-eval.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/bin
out=$tmp/out
mkdir -p "$bin" "$out"

rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout')
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	rev="$rev + uncommitted changes"
fi
say "building train and evaluate from $repo ($rev)"
(cd "$repo" && CGO_ENABLED=0 go build -o "$bin/" ./cmd/train ./cmd/evaluate)
train=$bin/train
evaluate=$bin/evaluate
ran=0

# run LOG CMD...: run quietly, keep stderr in LOG, show it if the command fails.
run() {
	local log=$1
	shift
	if ! "$@" >"$log" 2>&1; then
		say "FAILED: $*"
		cat "$log" >&2
		return 1
	fi
}

# --- a. NSL-KDD -------------------------------------------------------------------
nsl=$data/nsl-kdd
if [ -f "$nsl/KDDTrain+_20Percent.txt" ] && [ -f "$nsl/KDDTest+.txt" ]; then
	say "NSL-KDD: seeds $seeds"
	for seed in $seeds; do
		d=$out/nsl/seed$seed
		mkdir -p "$d"
		run "$d/train.log" "$train" --dataset "nsl-kdd:$nsl/KDDTrain+_20Percent.txt" \
			--seed "$seed" --out "$d/model.vgl"
		for t in KDDTest+ KDDTest-21; do
			[ -f "$nsl/$t.txt" ] || continue
			run "$d/$t.log" "$evaluate" --model "$d/model.vgl" \
				--dataset "nsl-kdd:$nsl/$t.txt" --out "$d/$t"
		done
	done
	sk=$data/../bench/sklearn_nslkdd.py
	if [ -f "$sk" ] && "$py" -c 'import sklearn' 2>/dev/null; then
		for t in KDDTest+ KDDTest-21; do
			[ -f "$nsl/$t.txt" ] || continue
			say "NSL-KDD: scikit-learn on $t"
			run "$out/nsl/sklearn-$t.txt" "$py" "$sk" "$nsl/KDDTrain+_20Percent.txt" "$nsl/$t.txt"
		done
	else
		say "NSL-KDD: skipping scikit-learn ($sk or python3-sklearn missing)"
	fi
	ran=1
else
	say "NSL-KDD: skipped ($nsl/KDDTrain+_20Percent.txt or KDDTest+.txt absent)"
fi

# --- b. the lab and the insider lab ------------------------------------------------
lab=$data/lab
if [ -f "$lab/baseline.pcap" ]; then
	for seed in $seeds; do
		d=$out/lab/seed$seed
		mkdir -p "$d"
		say "lab: train on baseline.pcap, seed $seed"
		run "$d/train.log" "$train" --pcap "$lab/baseline.pcap" --seed "$seed" --out "$d/model.vgl"
		if [ -f "$lab/mixed.pcap" ] && [ -f "$lab/labels.csv" ]; then
			run "$d/lab.log" "$evaluate" --model "$d/model.vgl" \
				--pcap "$lab/mixed.pcap" --labels "$lab/labels.csv" --out "$d/lab"
		else
			say "lab: mixed.pcap or labels.csv absent, skipped"
		fi
		ins=$data/lab-insider
		if [ -f "$ins/mixed.pcap" ] && [ -f "$ins/labels.csv" ]; then
			run "$d/insider.log" "$evaluate" --model "$d/model.vgl" \
				--pcap "$ins/mixed.pcap" --labels "$ins/labels.csv" --out "$d/insider"
		else
			say "lab-insider: mixed.pcap or labels.csv absent, skipped"
		fi
	done
	ran=1
else
	say "lab: skipped ($lab/baseline.pcap absent)"
fi

# --- c. Slips and ESnet scan captures against CIC-IDS2017 Monday background ---------
# Benign: the 6,000-packet Monday sample split in time: packets 1-3000 train the model,
# 3001-6000 are the benign background of the evaluation (so no benign flow is scored
# by a model that saw it). A second model trains on lab/baseline.pcap plus the same
# first half, to show what a broader baseline changes.
mon=$data/cicids2017-monday-sample-netml/demo.pcap
slips=$data/stratosphere-slips-test-pcaps/pcap
esnet=$data/esnet-curated-scans
scan_args=()
add() { # add FILE[=LABEL]: add a capture when present
	local f=${1%%=*}
	if [ -f "$f" ]; then scan_args+=(--pcap "$1"); else say "scans: $f absent, skipped"; fi
}
if [ -f "$mon" ] && { [ -d "$slips" ] || [ -d "$esnet" ]; }; then
	if ! command -v editcap >/dev/null; then
		say "scans: skipped (editcap from tshark/wireshark-common is needed to split the Monday sample)"
	else
		d=$out/scans
		mkdir -p "$d"
		editcap -r "$mon" "$d/monday-train.pcap" 1-3000
		editcap -r "$mon" "$d/monday-eval.pcap" 3001-6000
		add "$d/monday-eval.pcap=benign"
		labels=()
		if [ -f "$slips/test7-malicious.pcap" ]; then
			# mixed capture: per-row labels (frames 1085-1999), the rest stays benign
			add "$slips/test7-malicious.pcap"
			labels=(--labels "$repo/scripts/labels/slips-test7.csv")
		fi
		add "$slips/test8-malicious.pcap=arp_scan"
		add "$slips/test12-icmp-portscan.pcap=icmp_sweep"
		add "$slips/malicious-ssh-bruteforce.pcap=ssh_bruteforce"
		add "$slips/test-cc-capture-1.pcap=beacon_periodic"
		add "$slips/test-cc-capture-2.pcap=beacon_semiperiodic"
		add "$esnet/masscan/tcp_0_1000_20190821.pcap=masscan_tcp"
		add "$esnet/masscan/udp_0_1000_20190821.pcap=masscan_udp"
		add "$esnet/nmap/nmap_80_vanilla.pcap=nmap_plain"
		add "$esnet/nmap/nmap_80_w_service_detection.pcap=nmap_sV"
		add "$esnet/nmap/nmap_80_all.pcap=nmap_A"
		add "$esnet/benign-whois/whois.pcap=benign"
		seed=${seeds%% *}
		say "scans: train on Monday packets 1-3000, seed $seed"
		run "$d/train-monday.log" "$train" --pcap "$d/monday-train.pcap" --seed "$seed" \
			--out "$d/monday.vgl"
		run "$d/monday.log" "$evaluate" --model "$d/monday.vgl" "${scan_args[@]}" "${labels[@]}" \
			--out "$d/monday"
		if [ -f "$lab/baseline.pcap" ]; then
			say "scans: train on lab baseline + Monday packets 1-3000, seed $seed"
			run "$d/train-lab-monday.log" "$train" --pcap "$lab/baseline.pcap" \
				--pcap "$d/monday-train.pcap" --seed "$seed" --out "$d/lab-monday.vgl"
			run "$d/lab-monday.log" "$evaluate" --model "$d/lab-monday.vgl" "${scan_args[@]}" \
				"${labels[@]}" --out "$d/lab-monday"
		fi
		ran=1
	fi
else
	say "scans: skipped ($mon, or both $slips and $esnet, absent)"
fi

if [ "$ran" = 0 ]; then
	say "evaluate-shared: no data set found under $data; nothing measured"
	exit 0
fi

"$py" "$repo/scripts/summarize.py" "$out" "$rev"
