# shellcheck shell=sh
# Prints the guest's uid and the ID and ID_LIKE of the image's os-release
# under $ROOT (set before this; "" in the guest), for ParseProbe.
printf 'uid=%s\n' "$(id -u)"
for f in "$ROOT/etc/os-release" "$ROOT/usr/lib/os-release"; do
	if [ -f "$f" ]; then
		sed -n -e 's/^ID=/id=/p' -e 's/^ID_LIKE=/id_like=/p' "$f" | tr -d "\"'"
		break
	fi
done
