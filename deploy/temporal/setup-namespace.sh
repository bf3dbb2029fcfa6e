#!/bin/sh
# Creates the service's namespace and its custom search attributes ($SEARCH_ATTRIBUTES: Name=Type pairs,
# exactly those of workflows/search_attributes.py) when the server does not have them yet. Runs at every
# start; what exists already is left as it is.
set -eu

# A namespace just created reaches every part of the server within seconds, not at once: retry meanwhile.
retry() {
    attempt=1
    until "$@"; do
        [ "$attempt" -ge 60 ] && return 1
        attempt=$((attempt + 1))
        sleep 1
    done
}

op() { temporal operator "$@" --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE"; }

retry temporal operator cluster health --address "$TEMPORAL_ADDRESS"

if ! op namespace describe >/dev/null 2>&1; then
    op namespace create --retention "$RETENTION"
fi

existing=$(retry op search-attribute list)
for pair in $SEARCH_ATTRIBUTES; do
    name=${pair%%=*}
    type=${pair##*=}
    if printf '%s\n' "$existing" | grep -qw "$name"; then
        echo "search attribute $name exists"
    else
        retry op search-attribute create --name "$name" --type "$type"
    fi
done
