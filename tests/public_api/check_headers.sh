#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks the public headers: the list in tests/public_api/meson.build matches the directory, and every
# #include is a standard header, <tl/expected.hpp> or another public header (never core/src, libsodium,
# nlohmann/json or system headers: installed consumers get only what pkg-config zerobuffer gives).
# Usage: check_headers.sh HEADER_DIR LISTED_HEADER...
set -euo pipefail

# --help prints the comment above; a wrong command line prints it too and exits 2.
usage() { sed -n '3,6s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
esac
if (($# < 1)) || [[ "$1" == -* ]]; then
    echo "check_headers.sh: expected HEADER_DIR LISTED_HEADER..." >&2
    usage >&2
    exit 2
fi

dir="$1"
shift
status=0

actual="$(cd "$dir" && for h in *.h; do [[ -f "$h" ]] && echo "$h"; done | sort)"
listed="$(printf '%s\n' "$@" | sort)"
if [[ "$actual" != "$listed" ]]; then
    echo "public headers in $dir and the list in tests/public_api/meson.build differ:" >&2
    diff <(echo "$listed") <(echo "$actual") | sed -n 's/^> /  not listed: /p; s/^< /  listed but missing: /p' >&2
    status=1
fi

for header in $actual; do
    while IFS= read -r include; do
        if [[ "$include" =~ ^\<zerobuffer/([^>]+)\>$ ]]; then
            if [[ ! -f "$dir/${BASH_REMATCH[1]}" ]]; then
                echo "$header: includes $include, which is not a public header" >&2
                status=1
            fi
        elif [[ "$include" == '<tl/expected.hpp>' || "$include" =~ ^\<[a-z_]+\>$ ]]; then
            : # tl::expected is part of the API (Result); standard library headers have no extension
        else
            echo "$header: includes $include; public headers may include only the standard library," \
                 "<tl/expected.hpp> and <zerobuffer/...> headers" >&2
            status=1
        fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"][^>"]*[>"]\).*/\1/p' "$dir/$header")
done

if ((status == 0)); then
    echo "public-api-headers: $(wc -w <<<"$actual") headers ok"
fi
exit "$status"
