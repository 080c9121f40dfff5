# The tables of scripts/bench-peers.sh, from its results.jsonl (one record per imload run,
# read with jq -s): medians over rounds, per K and server. --arg fractions "25 50".
#
# A saturated rate is the server's limit only when every round's run said bound ==
# "server"; otherwise it is marked with what its runs said. Missing fields (an imload
# before the CPU shares and `bound` were reported) are null and print as n/a.

def median: sort | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def med(f): map(f) | map(select(. != null)) | median;
def fix(d): if . == null then "n/a" else (. * pow(10; d) | round) / pow(10; d) | tostring end;
def pct: if . == null then "n/a" else (. * 100 | round | tostring) + " %" end;
def rate: if . == null then "n/a"
    elif . >= 1e6 then (. / 1e6 | fix(2)) + "M"
    elif . >= 1e5 then (. / 1e3 | round | tostring) + "k"
    elif . >= 1e3 then (. / 1e3 | fix(1)) + "k"
    else (. | round | tostring) end;
def order: {"im": 0, "redis": 1, "irc": 2}[.] // 3;
def by_server: group_by(.target) | sort_by(.[0].target | order)[];
def name: {"im": "imserver", "redis": "Redis", "irc": "ngIRCd"}[.];
def marker: if . == null then "bound n/a"
    else {"generator": "generator-bound", "both": "both saturated", "neither": "neither saturated",
          "unknown": "bound unknown"}[.] // . end;
def row: "| " + join(" | ") + " |";

($fractions | split(" ") | map(select(. != ""))) as $fracs
| ($fracs[0]) as $light
| (map(select(.kind == "saturation"))) as $sat
# Per K and server: the median saturated rate and whether every round was server-bound.
| ($sat | group_by([.k, .target]) | map({
      key: "\(.[0].k) \(.[0].target)",
      value: {rate: med(.rate), server: all(.bound == "server"),
              marks: (map(select(.bound != "server") | .bound | marker) | unique)}})
  | from_entries) as $limit
| def ratio(k; t):
    $limit["\(k) \(t)"] as $a | $limit["\(k) redis"] as $r
    | if $a == null or $r == null or $a.rate == null or ($r.rate // 0) == 0 then null
      else {x: ($a.rate / $r.rate), both: ($a.server and $r.server)} end;
  def ratio_text: if . == null then "n/a"
    else (.x | fix(2)) + "×" + (if .both then "" else " †" end) end;

"Saturation (the headline): medians over rounds. The rate is deliveries/s to members other than the sender; the CPU shares are of one core in imload's measured window; \"bound\" is what imload said of each round's run.",
"System calls are the server's over the whole imload run (setup included) divided by every message it wrote to a member: deliveries + the senders' echoes (`delivered + echoes`; im and Redis echo, IRC does not).",
"",
"| K | server | saturated deliveries/s | × Redis | server CPU | imload CPU | bound (rounds) | syscalls per delivery or echo, saturated | syscalls per delivery or echo, \($light) % load |",
"|---:|---|---:|---:|---:|---:|---|---:|---:|",
(group_by(.k)[] | by_server
  | .[0] as $one
  | (map(select(.kind == "saturation"))) as $s
  | (map(select(.kind == $light))) as $l
  | $limit["\($one.k) \($one.target)"] as $lim
  | [($one.k | tostring), ($one.target | name),
     (if $lim == null then "n/a"
      else ($lim.rate | rate) + (if $lim.server then "" else " (" + ($lim.marks | join(", ")) + ")" end) end),
     (if $one.target == "redis" then "1" else ratio($one.k; $one.target) | ratio_text end),
     ($s | med(.server_share) | pct), ($s | med(.imload_share) | pct),
     ($s | map(.bound // "n/a") | group_by(.) | map("\(.[0]) \(length)/\($s | length)") | join(", ")
      | if . == "" then "n/a" else . end),
     ($s | med(.calls_per_write) | fix(2)), ($l | med(.calls_per_write) | fix(2))]
  | row),
([$limit | keys[] | split(" ") | ratio(.[0] | tonumber; .[1]) | select(. != null and (.both | not))]
  | if length > 0 then "", "† not a ratio of limits: a rate in it was not server-bound in every round." else empty end),
"",
"imserver target (issue 12): saturated deliveries/s ≥ 1.5× Redis's at K = 10 and K = 100, both server-bound.",
(10, 100 | . as $k | ratio($k; "im")
  | if . == null then "  K = \($k): not measured in this run"
    elif .both | not then "  K = \($k): \(ratio_text): not judged, a rate is not the server's limit"
    elif .x >= 1.5 then "  K = \($k): \(ratio_text): met"
    else "  K = \($k): \(ratio_text): not met" end),
"",
"Each load: medians over rounds. A fraction is of the same round's saturated rate of the same server. CPU per delivery holds only at the load beside it.",
"",
"| K | server | load | offered deliveries/s | delivered/s | p50 ms | p99 ms | p99.9 ms | server CPU | server CPU µs/delivery | lost |",
"|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
(group_by(.k)[] | by_server | .[0] as $one
  | (["saturation"] + $fracs)[] as $kind
  | map(select(.kind == $kind)) | select(length > 0)
  | [($one.k | tostring), ($one.target | name),
     (if $kind == "saturation" then "saturation" else "\($kind) %" end),
     (med(.offered) | rate), (med(.rate) | rate),
     # Latency at saturation is the backlog's age, not the server's: left out.
     (if $kind == "saturation" then "—", "—", "—"
      else (med(.p50) | fix(3)), (med(.p99) | fix(3)), (med(.p999) | fix(3)) end),
     (med(.server_share) | pct), (med(.cpu_us) | fix(3)), (med(.lost) | tostring)]
  | row),
"",
(map(select(.target == "im" and .kind == "50")) | select(length > 0)
  | group_by(.k)[]
  | "imserver p99 at 50 % of its own saturated rate, K = \(.[0].k): \(med(.p99) | fix(3)) ms (issue 12's target: < 1 ms)")
