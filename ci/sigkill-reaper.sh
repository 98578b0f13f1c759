#!/usr/bin/env bash
# Does ONE `gauntlet down --all` reap everything a SIGKILLed `gauntlet up`
# left behind, whatever it was doing when it died?
#
#   ci/sigkill-reaper.sh [ITERATIONS]        (default 20)
#
# Each iteration starts `gauntlet --project P up --no-cargo` in the
# background, SIGKILLs it after a random delay spread over the whole
# start-up (MIN_DELAY..MAX_DELAY seconds, default 0.2..25), runs ONE
# `gauntlet --project P down --all` at once, and then lists everything
# labelled dev.gauntlet.project=P (containers, networks, volumes). Anything
# listed is a leftover: it is printed, then removed so the next iteration
# starts clean. Exits 1 if any iteration left something, 0 otherwise.
#
# Environment:
#   GAUNTLET_BIN  the gauntlet binary (default target/debug/gauntlet)
#   PROJECT       the project to use (default sigkill-test; never the
#                 default project `gauntlet`, which other runs use)
#   MIN_DELAY, MAX_DELAY   kill delay range in seconds (default 0.2, 25)
#   SEED          seed for the delays ($RANDOM), to repeat a sequence
#
#   MODE          `random` (default): kill after the random delay above.
#                 `create`: kill at the moment a create is in flight in the
#                 engine: `up` talks to Docker through a small logging proxy
#                 (python3) that SIGKILLs it right after it has handed the
#                 whole request of the K-th create (network, volume or
#                 container; K random in 1..CREATES) to dockerd. This is the
#                 reported defect's situation, hit on purpose rather than by
#                 luck (a random kill lands in a create a few % of the time).
#   CREATES       how many creates `up` makes (default 9: 3 volumes, the
#                 network, 5 containers, for the repository's compose file)
#
# Needs the images built (`gauntlet build --system-bin ...`) so that `up
# --no-cargo` goes straight to creating the stack.
set -uo pipefail

cd "$(dirname "$0")/.."

iterations=${1:-20}
bin=${GAUNTLET_BIN:-target/debug/gauntlet}
project=${PROJECT:-sigkill-test}
min_delay=${MIN_DELAY:-0.2}
max_delay=${MAX_DELAY:-25}
mode=${MODE:-random}
creates=${CREATES:-9}
if [[ -n ${SEED:-} ]]; then RANDOM=$SEED; fi
case $mode in
random) ;;
create) command -v python3 >/dev/null || { echo "MODE=create needs python3" >&2; exit 2; } ;;
*) echo "MODE must be random or create" >&2; exit 2 ;;
esac

if [[ $project == gauntlet ]]; then
    echo "refusing to use the default project \`gauntlet\` (other runs live there)" >&2
    exit 2
fi
if [[ ! -x $bin ]]; then
    echo "no gauntlet binary at $bin (cargo build --locked -p gauntlet)" >&2
    exit 2
fi
docker info >/dev/null 2>&1 || { echo "docker is not available" >&2; exit 2; }

logdir=$(mktemp -d "${TMPDIR:-/tmp}/sigkill-reaper.XXXXXX")
filter="label=dev.gauntlet.project=$project"

# Everything labelled for the project, one `kind name state` per line.
leftovers() {
    docker ps -a --filter "$filter" --format 'container {{.Names}} {{.State}}'
    docker network ls --filter "$filter" --format 'network {{.Name}}'
    docker volume ls --filter "$filter" --format 'volume {{.Name}}'
}

# Removes leftovers by hand, so one failing iteration does not leak into
# the next (and never with gauntlet, whose reaper is what is under test).
scrub() {
    local ids
    ids=$(docker ps -aq --filter "$filter")
    [[ -n $ids ]] && docker rm -f -v $ids >/dev/null
    ids=$(docker network ls -q --filter "$filter")
    [[ -n $ids ]] && docker network rm $ids >/dev/null
    ids=$(docker volume ls -q --filter "$filter")
    [[ -n $ids ]] && docker volume rm $ids >/dev/null
    return 0
}

now() { date +%s.%N; }

# The proxy for MODE=create: listen on $1, forward to the engine's socket,
# and SIGKILL the pid in file $3 once the $4-th create request has been
# forwarded in full (headers and body); log each create to $5.
proxy() {
    exec python3 - "$@" <<'PY'
import asyncio, os, re, signal, sys
listen, upstream, pidfile, target, log = sys.argv[1:6]
target, count = int(target), 0
log = open(log, "a", buffering=1)
create = re.compile(rb"^POST (\S*/(containers|networks|volumes)/create\S*) HTTP/1\.[01]$")

async def forward_requests(reader, writer):
    global count
    buf, pending = b"", None  # pending: [body bytes left, create path, chunked]
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()  # handed to dockerd before anything is killed
        buf += data
        while True:
            if pending is None:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head, buf = buf[:end].split(b"\r\n"), buf[end + 4:]
                m = create.match(head[0])
                length, chunked = 0, False
                for line in head[1:]:
                    k, _, v = line.partition(b":")
                    k = k.strip().lower()
                    if k == b"content-length":
                        length = int(v.strip())
                    elif k == b"transfer-encoding" and b"chunked" in v.lower():
                        chunked = True
                pending = [length, m.group(1).decode() if m else None, chunked]
            length, path, chunked = pending
            if chunked:
                end = buf.find(b"0\r\n\r\n")
                if end < 0:
                    break
                buf = buf[end + 5:]
            elif len(buf) < length:
                break
            else:
                buf = buf[length:]
            pending = None
            if path:
                count += 1
                log.write(f"{count} {path}\n")
                if count == target:
                    log.write(f"killed in flight: {path}\n")
                    os.kill(int(open(pidfile).read()), signal.SIGKILL)
    writer.close()

async def forward_responses(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()

async def client(creader, cwriter):
    ureader, uwriter = await asyncio.open_unix_connection(upstream)
    await asyncio.gather(forward_requests(creader, uwriter),
                         forward_responses(ureader, cwriter),
                         return_exceptions=True)

async def main():
    server = await asyncio.start_unix_server(client, listen)
    async with server:
        await server.serve_forever()

asyncio.run(main())
PY
}

before=$(leftovers)
if [[ -n $before ]]; then
    echo "project $project is not clean before the first iteration; scrubbing:"
    echo "$before" | sed 's/^/  /'
    scrub
fi

echo "iterations=$iterations project=$project bin=$bin mode=$mode delays=${min_delay}..${max_delay}s logs=$logdir"
printf '%-4s %-7s %-9s %-8s %-8s %s\n' iter kill_at up_state down_s removed left
failed=0
left_containers=0
left_networks=0
left_volumes=0
down_times=()
for ((i = 1; i <= iterations; i++)); do
    uplog=$logdir/up-$i.log
    if [[ $mode == random ]]; then
        delay=$(awk -v r="$RANDOM" -v lo="$min_delay" -v hi="$max_delay" \
            'BEGIN { printf "%.2f", lo + (hi - lo) * r / 32767 }')
        "$bin" --project "$project" up --no-cargo >"$uplog" 2>&1 &
        pid=$!
        sleep "$delay"
    else
        k=$((RANDOM % creates + 1))
        delay="#$k"
        sock=$logdir/docker-$i.sock
        proxylog=$logdir/proxy-$i.log
        proxy "$sock" /var/run/docker.sock "$logdir/up-$i.pid" "$k" "$proxylog" &>>"$proxylog" &
        proxy_pid=$!
        for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
        DOCKER_HOST=unix://$sock "$bin" --project "$project" up --no-cargo >"$uplog" 2>&1 &
        pid=$!
        echo "$pid" >"$logdir/up-$i.pid"
        # The proxy kills it at the K-th create; give up after 90 s.
        (sleep 90 && kill -KILL "$pid") &>/dev/null &
        watchdog=$!
        wait "$pid" 2>/dev/null
        kill "$watchdog" 2>/dev/null
    fi
    if kill -0 "$pid" 2>/dev/null; then
        up_state=killed
        kill -KILL "$pid"
    else
        up_state=exited   # finished (or failed) before the kill
    fi
    wait "$pid" 2>/dev/null
    up_rc=$?
    if [[ $mode == create ]]; then
        kill "$proxy_pid" 2>/dev/null
        wait "$proxy_pid" 2>/dev/null
        inflight=$(sed -n 's/^killed in flight: //p' "$proxylog")
        if [[ -n $inflight ]]; then
            up_state=killed
            # e.g. "#7:container:backup", "#2:volume", "#1:network"
            delay="#$k:$(sed -E -e 's#.*/(container|network|volume)s/create#\1#' \
                -e "s#\\?name=$project-[a-z0-9]+-([a-z0-9-]+).*#:\\1#" <<<"$inflight")"
        fi
    fi
    [[ $up_state == exited ]] && up_state="exit$up_rc"

    downlog=$logdir/down-$i.log
    t0=$(now)
    "$bin" --project "$project" down --all >"$downlog" 2>&1
    down_rc=$?
    t1=$(now)
    down_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    down_times+=("$down_s")
    removed=$(grep -c '^removed ' "$downlog")

    left=$(leftovers)
    if [[ $down_rc -ne 0 ]]; then
        left="down --all exited $down_rc: $(tail -n 2 "$downlog" | tr '\n' ' ')${left:+
$left}"
    fi
    if [[ -z $left ]]; then
        printf '%-4s %-7s %-9s %-8s %-8s %s\n' "$i" "$delay" "$up_state" "$down_s" "$removed" "nothing"
    else
        failed=$((failed + 1))
        left_containers=$((left_containers + $(grep -c '^container ' <<<"$left")))
        left_networks=$((left_networks + $(grep -c '^network ' <<<"$left")))
        left_volumes=$((left_volumes + $(grep -c '^volume ' <<<"$left")))
        printf '%-4s %-7s %-9s %-8s %-8s %s\n' "$i" "$delay" "$up_state" "$down_s" "$removed" "LEFT:"
        echo "$left" | sed 's/^/       /'
        echo "       (up's last lines: $(tail -n 2 "$uplog" | tr '\n' ' '))"
        scrub
    fi
done

stats=$(printf '%s\n' "${down_times[@]}" | sort -n | awk '
    { t[NR] = $1; s += $1 }
    END { printf "min %.2fs median %.2fs max %.2fs mean %.2fs", t[1], t[int((NR + 1) / 2)], t[NR], s / NR }')
echo "summary: $iterations iterations, $failed left something" \
    "(containers $left_containers, networks $left_networks, volumes $left_volumes);" \
    "down --all $stats"
[[ $failed -eq 0 ]]
