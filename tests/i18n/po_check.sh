#!/usr/bin/env bash
# lwauth's catalogs: po/lwauth.pot holds every string the sources mark (scripts/update-pot
# run afresh finds none it lacks, and none it has that the sources dropped), and each
# po/<lang>.po passes msgfmt --check (placeholders included) and translates every msgid
# of the template: none untranslated, none fuzzy.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$root/scripts/update-pot" "$tmp/fresh.pot" 2> "$tmp/xgettext.log" || {
  cat "$tmp/xgettext.log" >&2
  exit 1
}
status=0
if ! msgcmp --use-untranslated "$root/po/lwauth.pot" "$tmp/fresh.pot"; then
  echo "po/lwauth.pot lacks strings the sources mark: run the update-pot target" >&2
  status=1
fi
if ! msgcmp --use-untranslated "$tmp/fresh.pot" "$root/po/lwauth.pot"; then
  echo "po/lwauth.pot has strings the sources no longer mark: run the update-pot target" >&2
  status=1
fi
while read -r lang; do
  [ -n "$lang" ] || continue
  po="$root/po/$lang.po"
  msgfmt --check --output-file=/dev/null "$po" || status=1
  if ! msgcmp "$po" "$tmp/fresh.pot"; then
    echo "po/$lang.po does not translate every msgid of the template" >&2
    status=1
  fi
  fuzzy=$(msgattrib --only-fuzzy --no-obsolete "$po")
  untranslated=$(msgattrib --untranslated --no-obsolete "$po")
  if [ -n "$fuzzy" ] || [ -n "$untranslated" ]; then
    echo "po/$lang.po has fuzzy or untranslated entries:" >&2
    printf '%s\n%s\n' "$fuzzy" "$untranslated" >&2
    status=1
  fi
done < "$root/po/LINGUAS"
exit $status
