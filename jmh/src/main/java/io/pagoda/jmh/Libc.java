package io.pagoda.jmh;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The C library's {@code malloc} and {@code free}, called through FFM downcall handles: the plain
 * way a Java program gets native memory from the system allocator with the FFM API (glibc's
 * ptmalloc on Debian; its per-thread tcache serves small blocks). Pointers are
 * {@link ValueLayout#ADDRESS}, as the API intends; the benchmarks hand back the raw address, like
 * Pagoda's address API, and {@code -prof gc} shows whether the zero-length segments cost any heap.
 * The handles are ordinary (not {@code Linker.Option.critical}), so each call makes the thread-state
 * transition a JNI call makes too.
 */
final class Libc {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MALLOC = LINKER.downcallHandle(
            LINKER.defaultLookup().find("malloc").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle FREE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("free").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));

    private Libc() {
    }

    /** {@code malloc(size)}; never returns 0 (throws instead). */
    static long malloc(long size) {
        MemorySegment block;
        try {
            block = (MemorySegment) MALLOC.invokeExact(size);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        long address = block.address();
        if (address == 0) {
            throw new OutOfMemoryError("malloc(" + size + ") returned NULL");
        }
        return address;
    }

    /** {@code free(address)}. */
    static void free(long address) {
        try {
            FREE.invokeExact(MemorySegment.ofAddress(address));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
