package io.pagoda.region;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Locale;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An asymmetric store-load fence: a {@link #light()} side that costs nothing, for a thread that
 * runs often (the owner of a per-thread cache), and a {@link #heavy()} side that costs a system
 * call, for a thread that runs rarely (one that drains other threads' caches).
 *
 * <p>The pattern it serves is Dekker's: the owner writes "I am busy" and then reads "is a drain
 * requested?"; the drainer writes "drain requested" and then reads "is the owner busy?". Without a
 * store-load fence on both sides, both may read the old values (store buffering) and both touch the
 * cache. {@code heavy()} is Linux's {@code membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)}: when it
 * returns, every thread of the process has executed a full memory barrier (a running thread by an
 * interrupt, a sleeping one by its context switch), so the owner's hardware fence is not needed.
 * The owner must still keep the compiler from swapping its store and its load: it uses opaque,
 * release or acquire VarHandle accesses for both, which HotSpot never reorders with each other.
 *
 * <p>Where membarrier is not available (not Linux, an old kernel, a seccomp filter), both sides
 * fall back to {@link VarHandle#fullFence()}, which is correct under the Java memory model alone,
 * at the cost of a fence on the owner's path. {@link #isAsymmetric()} tells which is in use;
 * {@code -Dpagoda.membarrier=false} forces the fallback.
 */
public final class AsymmetricFence {

    private static final int MEMBARRIER_CMD_QUERY = 0;
    private static final int MEMBARRIER_CMD_PRIVATE_EXPEDITED = 1 << 3;
    private static final int MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED = 1 << 4;

    private static final long SYSCALL = membarrierSyscall();
    private static final MethodHandle MEMBARRIER = registerMembarrier();
    private static final boolean ASYMMETRIC = MEMBARRIER != null;

    private AsymmetricFence() {
    }

    /** Whether {@link #light()} is free (membarrier in use) rather than a full fence. */
    public static boolean isAsymmetric() {
        return ASYMMETRIC;
    }

    /** The frequent side: nothing with membarrier (a compiler-ordered access suffices), else a full fence. */
    public static void light() {
        if (!ASYMMETRIC) {
            VarHandle.fullFence();
        }
    }

    /** The rare side: a full fence on every thread of the process, or a full fence on this one. */
    public static void heavy() {
        if (!ASYMMETRIC) {
            VarHandle.fullFence();
            return;
        }
        long result;
        try {
            result = (long) MEMBARRIER.invokeExact(SYSCALL, (long) MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0L, 0L);
        } catch (Throwable t) {
            throw new IllegalStateException("membarrier could not be called", t);
        }
        if (result != 0) {
            // Registered at start-up, so this cannot fail for lack of registration; never continue unfenced.
            throw new IllegalStateException("membarrier(PRIVATE_EXPEDITED) failed: " + result);
        }
    }

    /** membarrier through libc's syscall(2): glibc has no wrapper for it. Null where unusable. */
    private static MethodHandle registerMembarrier() {
        long syscall = SYSCALL;
        if (syscall < 0 || !Boolean.parseBoolean(System.getProperty("pagoda.membarrier", "true"))) {
            return null;
        }
        try {
            Linker linker = Linker.nativeLinker();
            Optional<MemorySegment> symbol = linker.defaultLookup().find("syscall");
            if (symbol.isEmpty()) {
                return null;
            }
            // long syscall(long number, ...): three variadic longs (cmd, flags, cpu_id)
            MethodHandle handle = linker.downcallHandle(symbol.get(),
                    FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                    Linker.Option.firstVariadicArg(1));
            long supported = (long) handle.invokeExact(syscall, (long) MEMBARRIER_CMD_QUERY, 0L, 0L);
            if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) {
                return null;
            }
            long registered = (long) handle.invokeExact(syscall, (long) MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0L, 0L);
            return registered == 0 ? handle : null;
        } catch (Throwable t) {
            return null;
        }
    }

    /** The membarrier system call's number on this platform, or -1. */
    private static long membarrierSyscall() {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            return -1;
        }
        return switch (System.getProperty("os.arch", "")) {
            case "amd64", "x86_64" -> 324;
            case "aarch64" -> 283;
            default -> -1;
        };
    }
}
