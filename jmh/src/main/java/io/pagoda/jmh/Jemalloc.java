package io.pagoda.jmh;

import org.lwjgl.system.jemalloc.JEmalloc;

/**
 * jemalloc, as bundled by LWJGL 3.3.6 ({@code lwjgl-jemalloc} with its {@code natives-linux}
 * library, extracted to a temporary directory when first used), called through LWJGL's raw-address
 * entry points {@code nje_malloc} and {@code nje_free}: the forms of {@code je_malloc}/{@code je_free}
 * that take and return a {@code long}, so no {@code ByteBuffer} is made per block. LWJGL 3.3 binds
 * native functions with JNI (it has no FFM backend; that is LWJGL 4), so each call makes a JNI
 * transition, as the FFM {@link Libc} peer makes a downcall transition. LWJGL's {@code MemoryUtil}
 * uses {@code sun.misc.Unsafe}, so JDK 24+ prints a deprecation warning once per fork.
 *
 * <p>If the natives cannot be loaded on a machine, {@link #requireLoaded()} fails with a message
 * that says so, and JMH reports the jemalloc benchmarks as failed; nothing is substituted for them.
 */
final class Jemalloc {

    private Jemalloc() {
    }

    /**
     * Loads jemalloc and makes one allocation with it.
     *
     * @throws IllegalStateException if the library does not load or does not allocate
     */
    static void requireLoaded() {
        long probe;
        try {
            probe = JEmalloc.nje_malloc(64);
        } catch (Throwable t) {
            throw new IllegalStateException("jemalloc did not load (LWJGL " + org.lwjgl.Version.getVersion()
                    + ", natives for " + System.getProperty("os.name") + "/" + System.getProperty("os.arch")
                    + "): " + t, t);
        }
        if (probe == 0) {
            throw new IllegalStateException("jemalloc loaded but je_malloc(64) returned NULL");
        }
        JEmalloc.nje_free(probe);
    }

    /** {@code je_malloc(size)}; never returns 0 (throws instead). */
    static long malloc(long size) {
        long address = JEmalloc.nje_malloc(size);
        if (address == 0) {
            throw new OutOfMemoryError("je_malloc(" + size + ") returned NULL");
        }
        return address;
    }

    /** {@code je_free(address)}. */
    static void free(long address) {
        JEmalloc.nje_free(address);
    }
}
