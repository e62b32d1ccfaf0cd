package io.pagoda;

import io.pagoda.region.Region;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Allocations larger than the largest block: each a mapping of its own outside the region, with
 * a shared arena of its own, so that freeing it makes every segment over it inaccessible (an
 * access after free throws, where an unmapped page would crash the JVM).
 *
 * <p>Invariant: a mapping is in {@link #byAddress} from its allocation to its free, and its arena
 * is closed exactly once, by whoever removes it from there (a free, or the allocator's close).
 */
final class LargeMappings {

    private final ConcurrentHashMap<Long, Arena> byAddress = new ConcurrentHashMap<>();
    private final long alignment;
    private final boolean useMapping;

    LargeMappings(long alignment, boolean useMapping) {
        this.alignment = alignment;
        this.useMapping = useMapping;
    }

    /** Most bytes one mapping may ask for: 2^47, the user address space of x86-64 and AArch64 Linux. */
    static final long MAX_MAPPING = 1L << 47;

    /**
     * @throws IllegalArgumentException if byteSize is more than the address space
     * @throws OutOfMemoryError         if the operating system refuses the mapping
     */
    MemorySegment allocate(long byteSize) {
        if (byteSize > MAX_MAPPING) {
            throw tooLarge(byteSize);
        }
        Arena arena = Arena.ofShared();
        MemorySegment mapping;
        try {
            // Whole pages: the address API's users (a Netty buffer growing in place) may use them,
            // and an FFM allocation, unlike mmap, has no page's slack.
            mapping = Region.mapping(arena, mappedBytes(byteSize), alignment, useMapping).asSlice(0, byteSize);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
        byAddress.put(mapping.address(), arena);
        return mapping;
    }

    /** The bytes a mapping for {@code byteSize} holds: whole pages, what usableSize tells of it. */
    long mappedBytes(long byteSize) {
        return (byteSize + alignment - 1) & -alignment;
    }

    /** The refusal of a size no mapping can have: the same from allocate and from usableSize. */
    static IllegalArgumentException tooLarge(long byteSize) {
        return new IllegalArgumentException("byteSize " + byteSize + " is more than a process's address space ("
                + MAX_MAPPING + " bytes)");
    }

    /** Whether a segment is one of the mappings (or a slice of one): it has a mapping's scope. */
    boolean holds(MemorySegment segment) {
        Arena arena = byAddress.get(segment.address());
        return arena != null && arena.scope() == segment.scope();
    }

    /**
     * Unmaps the mapping at an address.
     *
     * @throws IllegalArgumentException if no mapping starts there
     * @throws IllegalStateException    if another thread frees it at the same moment
     */
    void free(long address, String describeAllocator) {
        Arena arena = byAddress.get(address);
        if (arena == null) {
            throw new IllegalArgumentException("0x" + Long.toHexString(address) + " was not allocated by this allocator "
                    + describeAllocator + ", or was freed already");
        }
        if (!byAddress.remove(address, arena)) {
            throw new IllegalStateException("double free: the mapping at 0x" + Long.toHexString(address)
                    + " is being freed by another thread");
        }
        arena.close(); // unmaps; every segment over it is inaccessible from now on
    }

    /** Unmaps every mapping left: the allocator is closing. */
    void freeAll() {
        for (Long address : byAddress.keySet()) {
            Arena arena = byAddress.remove(address);
            if (arena != null) {
                arena.close();
            }
        }
    }
}
