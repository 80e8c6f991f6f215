// libFuzzer's entry point for programs that keep their own main (LLVM 11 and later). It is
// declared weak so that the same executable links without libFuzzer, as a corpus replayer:
// SwiftPM gives every executable its own main, so libFuzzer's main cannot be the one that runs.
#include "CStrongroomFuzzDriver.h"

extern int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size))
    __attribute__((weak));

int strongroom_fuzz_run_driver(int *argc, char ***argv, strongroom_fuzz_callback callback) {
    if (LLVMFuzzerRunDriver == NULL) {
        return -1;
    }
    return LLVMFuzzerRunDriver(argc, argv, callback);
}
