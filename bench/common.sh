# shellcheck shell=bash
# Sourced by the scripts in bench/ once they have changed to the repository's root: the seg build they run ($seg, or
# SEG_DLL), the jemalloc that PyTorch's side is preloaded with to put it on seg's allocator ($jemalloc, or SEG_JEMALLOC; empty
# where none is installed), and seg's own jemalloc setting, page decay off ($decay_off, the value of FastAllocator.Config).
seg=${SEG_DLL:-src/SegCli/bin/Release/net10.0/seg.dll}
[ -f "$seg" ] || { echo "error: $seg not found; build first: dotnet build -c Release" >&2; exit 2; }
jemalloc=${SEG_JEMALLOC:-}
for candidate in /usr/lib/*/libjemalloc.so.2 /usr/lib64/libjemalloc.so.2; do
  [ -n "$jemalloc" ] || [ ! -f "$candidate" ] || jemalloc=$candidate
done
decay_off=dirty_decay_ms:-1,muzzy_decay_ms:-1,background_thread:false
