#!/usr/bin/env bash
# Builds the small ELF fixtures for ElfWeakReferenceTests (committed; tests need no compiler).
#   libanchor_old.so  soname libanchor.so, exports only other_fn@GLIBCXX_3.4 (like an old libstdc++)
#   libconsumer.so    needs other_fn@GLIBCXX_3.4 and _ZSt21ios_base_library_initv@GLIBCXX_3.4.32 (never called)
#   libconsumer_two.so  also needs also_new@GLIBCXX_3.4.32, so weakening must be refused
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

cat > "$work/new.map" <<'MAP'
GLIBCXX_3.4 { global: other_fn; local: *; };
GLIBCXX_3.4.32 { global: _ZSt21ios_base_library_initv; also_new; } GLIBCXX_3.4;
MAP
cat > "$work/old.map" <<'MAP'
GLIBCXX_3.4 { global: other_fn; local: *; };
MAP
cat > "$work/provider.c" <<'C'
int other_fn(void) { return 40; }
#ifdef NEW
void _ZSt21ios_base_library_initv(void) {}
int also_new(void) { return 1; }
#endif
C
cat > "$work/consumer.c" <<'C'
int other_fn(void);
void _ZSt21ios_base_library_initv(void);
#ifdef TWO
int also_new(void);
int uses_new(void) { return also_new(); }
#endif
void never_called(void) { _ZSt21ios_base_library_initv(); }
int answer(void) { return other_fn() + 2; }
C
flags="-shared -fPIC -O1 -s -Wl,--build-id=none"
gcc $flags -DNEW -Wl,-soname,libanchor.so -Wl,--version-script="$work/new.map" -o "$work/libanchor.so" "$work/provider.c"
gcc $flags -Wl,-soname,libanchor.so -Wl,--version-script="$work/old.map" -o libanchor_old.so "$work/provider.c"
gcc $flags -Wl,-rpath,'$ORIGIN' -o libconsumer.so "$work/consumer.c" -L"$work" -lanchor
gcc $flags -DTWO -Wl,-rpath,'$ORIGIN' -o libconsumer_two.so "$work/consumer.c" -L"$work" -lanchor
