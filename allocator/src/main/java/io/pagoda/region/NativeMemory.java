package io.pagoda.region;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.IntStream;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Restricted: the operating system's virtual-memory calls ({@code mmap}, {@code munmap}), bound
 * through the FFM {@link Linker}. A wrong address or length given to these methods can unmap
 * memory that the JVM still uses and crash it; they are called only by {@link Region}, with the
 * address and length that {@link #reserve} returned.
 *
 * <p>Needs native access ({@code --enable-native-access=io.pagoda}, or {@code ALL-UNNAMED} on the
 * class path). On an operating system other than Linux, {@link #isAvailable()} is false and the
 * region falls back to an FFM allocation.
 */
public final class NativeMemory {

    // Linux's values (identical on x86_64 and aarch64, the platforms Pagoda is tested on).
    private static final int PROT_READ = 0x1;
    private static final int PROT_WRITE = 0x2;
    private static final int MAP_PRIVATE = 0x02;
    private static final int MAP_ANONYMOUS = 0x20;
    private static final int MAP_NORESERVE = 0x4000;
    private static final long MAP_FAILED = -1L;

    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;
    private static final MethodHandle MADVISE;
    /** {@code long syscall(long number, ...)}, called as mbind's six arguments; null where unknown. */
    private static final MethodHandle MBIND;
    private static final long SYS_MBIND = switch (System.getProperty("os.arch", "")) {
        case "amd64", "x86_64" -> 237;
        case "aarch64" -> 235;
        default -> -1;
    };
    private static final int MPOL_BIND = 2;
    /** Bits in the node mask passed to mbind: one unsigned long. */
    private static final long MAX_NODES = 64;
    private static final int MADV_DONTNEED = 4;
    private static final int MADV_HUGEPAGE = 14;

    static {
        MethodHandle mmap = null;
        MethodHandle munmap = null;
        MethodHandle madvise = null;
        MethodHandle mbind = null;
        if (System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            Linker linker = Linker.nativeLinker();
            SymbolLookup libc = linker.defaultLookup();
            Optional<MemorySegment> mmapSymbol = libc.find("mmap");
            Optional<MemorySegment> munmapSymbol = libc.find("munmap");
            if (mmapSymbol.isPresent() && munmapSymbol.isPresent()) {
                // void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
                mmap = linker.downcallHandle(mmapSymbol.get(),
                        FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
                // int munmap(void *addr, size_t length)
                munmap = linker.downcallHandle(munmapSymbol.get(),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
            }
            // int madvise(void *addr, size_t length, int advice)
            madvise = libc.find("madvise").map(symbol -> linker.downcallHandle(symbol,
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT))).orElse(null);
            // glibc has no mbind (libnuma wraps the system call): call it through syscall(2).
            if (SYS_MBIND >= 0) {
                mbind = libc.find("syscall").map(symbol -> linker.downcallHandle(symbol,
                        FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG),
                        Linker.Option.firstVariadicArg(1))).orElse(null);
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
        MADVISE = madvise;
        MBIND = mbind;
    }

    private NativeMemory() {
    }

    /** Whether {@link #reserve} can be used: true on Linux with a C library that the Linker finds. */
    public static boolean isAvailable() {
        return MMAP != null;
    }

    /**
     * Reserves {@code length} bytes of address space, readable and writable, backed by no memory
     * until touched: {@code mmap(NULL, length, PROT_READ|PROT_WRITE,
     * MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)}. Untouched pages read as zero.
     *
     * @param length bytes to reserve, positive
     * @return the address of the mapping, aligned to the operating system's page size
     * @throws UnsupportedOperationException if {@link #isAvailable()} is false
     * @throws OutOfMemoryError if the kernel refuses the mapping (address space exhausted, or an
     *         overcommit policy that counts even MAP_NORESERVE mappings)
     */
    public static long reserve(long length) {
        if (!isAvailable()) {
            throw new UnsupportedOperationException("mmap is not available on " + System.getProperty("os.name"));
        }
        long address;
        try {
            MemorySegment result = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, length,
                    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
            address = result.address();
        } catch (Throwable t) {
            throw new IllegalStateException("mmap of " + length + " bytes could not be called", t);
        }
        if (address == MAP_FAILED || address == 0L) {
            throw new OutOfMemoryError("mmap refused to reserve " + length + " bytes of address space");
        }
        return address;
    }

    /**
     * Hands the memory of {@code [address, address + length)} back to the operating system:
     * {@code madvise(MADV_DONTNEED)}. The range stays mapped; it reads as zero afterwards and
     * costs resident memory again only when touched. Page-aligned ranges of a mapping from
     * {@link #reserve} only.
     *
     * @return false if madvise is not available or refused the range
     */
    public static boolean discard(long address, long length) {
        return advise(address, length, MADV_DONTNEED);
    }

    /**
     * Asks for transparent huge pages on {@code [address, address + length)}:
     * {@code madvise(MADV_HUGEPAGE)}, which THP's "madvise" mode needs.
     *
     * @return false if madvise is not available, or the kernel refused (THP not built in)
     */
    public static boolean adviseHugePages(long address, long length) {
        return advise(address, length, MADV_HUGEPAGE);
    }

    /**
     * Binds {@code [address, address + length)} to NUMA node {@code node} of the machine:
     * {@code mbind(MPOL_BIND)}, so that its pages, when first touched, come from that node's memory.
     *
     * @throws IllegalArgumentException if node is outside [0, 64)
     * @throws UnsupportedOperationException where mbind cannot be called (not Linux on x86-64 or AArch64)
     * @throws IllegalStateException if the kernel refuses (no such node)
     */
    public static void bindToNode(long address, long length, int node) {
        if (node < 0 || node >= MAX_NODES) {
            throw new IllegalArgumentException("node " + node + " is outside [0, " + MAX_NODES + ")");
        }
        if (MBIND == null) {
            throw new UnsupportedOperationException("mbind is not available on " + System.getProperty("os.name")
                    + " " + System.getProperty("os.arch"));
        }
        long result;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(JAVA_LONG);
            mask.set(JAVA_LONG, 0, 1L << node);
            result = (long) MBIND.invokeExact(SYS_MBIND, MemorySegment.ofAddress(address), length, (long) MPOL_BIND,
                    mask, MAX_NODES, 0L);
        } catch (Throwable t) {
            throw new IllegalStateException("mbind could not be called", t);
        }
        if (result != 0) {
            throw new IllegalStateException("mbind of " + length + " bytes at 0x" + Long.toHexString(address)
                    + " to NUMA node " + node + " failed");
        }
    }

    /**
     * The NUMA nodes the machine has online, from /sys/devices/system/node/online (for example
     * "0" or "0-3"); [0] where it cannot be read.
     */
    public static int[] onlineNodes() {
        try {
            String online = Files.readString(Path.of("/sys/devices/system/node/online")).strip();
            return Arrays.stream(online.split(",")).flatMapToInt(range -> {
                String[] ends = range.split("-");
                int first = Integer.parseInt(ends[0]);
                return IntStream.rangeClosed(first, ends.length > 1 ? Integer.parseInt(ends[1]) : first);
            }).toArray();
        } catch (IOException | RuntimeException unreadable) {
            return new int[] {0};
        }
    }

    private static boolean advise(long address, long length, int advice) {
        if (MADVISE == null) {
            return false;
        }
        try {
            return (int) MADVISE.invokeExact(MemorySegment.ofAddress(address), length, advice) == 0;
        } catch (Throwable t) {
            throw new IllegalStateException("madvise could not be called", t);
        }
    }

    /**
     * Restricted: unmaps {@code length} bytes at {@code address}, which must be exactly a mapping
     * returned by {@link #reserve}. Any segment over that range must be dead before this call, or
     * an access through it will crash the JVM.
     */
    public static void release(long address, long length) {
        int result;
        try {
            result = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), length);
        } catch (Throwable t) {
            throw new IllegalStateException("munmap could not be called", t);
        }
        if (result != 0) {
            throw new IllegalStateException("munmap(0x" + Long.toHexString(address) + ", " + length + ") failed");
        }
    }
}
