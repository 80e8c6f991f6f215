#ifndef STRONGROOM_FUZZ_DRIVER_H
#define STRONGROOM_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

typedef int (*strongroom_fuzz_callback)(const uint8_t *data, size_t size);

/// Hands control to libFuzzer's driver when this binary was linked with libFuzzer
/// (`STRONGROOM_FUZZ=1 swift build ...`, see scripts/fuzz) and returns its exit code;
/// returns -1 without doing anything in an ordinary build, which has no libFuzzer.
int strongroom_fuzz_run_driver(int *argc, char ***argv, strongroom_fuzz_callback callback);

#endif
