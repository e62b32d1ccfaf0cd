package io.pagoda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A named share of a {@link PageAllocator} with a byte limit (a tenant, a connection, a table),
 * accounted up through its parents, as Arrow's child allocators are.
 *
 * {@snippet lang=java :
 * try (ChildAllocator tenant = pages.newChild("tenant-a", 256L << 20);
 *      ChildAllocator connection = tenant.newChild("connection-42", 1L << 20)) {
 *     MemorySegment frame = connection.allocate(16 * 1024);
 *     // ... connection.usedBytes() == 16384, and tenant.usedBytes() too
 *     connection.free(frame);
 * }
 * }
 *
 * <h2>What is charged</h2>
 * Each allocation charges its usable size ({@link PageAllocator#usableSize(long, long)}: the size
 * class, block or pages that serve it, alignment included) to this child and to every parent, all or nothing: a request that would
 * take any of them over its limit throws {@link LimitExceededException}, naming each, and charges
 * none. The use is exact at every moment, whether the memory freed sits in a per-thread cache or
 * not: it is counted at the call, not from the allocator's state. A charge is made once the memory
 * is allocated, and a charge or a refund changes every level at once (under one lock for the
 * tree of children under a root), so that no request is refused for another's charge that is
 * half made, or made for a request that then fails.
 *
 * <h2>Closing</h2>
 * A child with open children of its own refuses to close. A child with live allocations refuses
 * too ({@link OnClose#REFUSE}, the default: the exception reports them, with where each was
 * allocated in the allocator's debug mode), or frees them
 * ({@link OnClose#FREE}: for a connection whose buffers die with it). Allocations racing a close
 * are either freed by it or refused.
 *
 * <p>The accounting costs a map entry per live allocation, a shared read lock per call, and the
 * tree's lock around each charge and refund; the parent allocator's own calls pay none of it. Instances are thread-safe.
 */
public final class ChildAllocator implements SegmentAllocator, AutoCloseable {

    /** What closing a child does with allocations still live. */
    public enum OnClose {
        /** Refuse to close, and report them. */
        REFUSE,
        /** Free them, then close. */
        FREE
    }

    /** A segment handed out and its charge. Compared by identity. */
    private static final class Held {
        final MemorySegment segment;
        final long charge;

        Held(MemorySegment segment, long charge) {
            this.segment = segment;
            this.charge = charge;
        }
    }

    private final PageAllocator pages;
    private final ChildAllocator parent;
    private final String name;
    private final long limit;
    private final OnClose onClose;
    /** Bytes charged: written under {@link #accounting}, read anywhere. */
    private volatile long used;
    /** The lock of this child's whole tree (its root's), held while a charge is checked and made, or refunded. */
    private final Object accounting;
    /** What this child handed out, by address, with what it was charged. */
    private final Map<Long, Held> live = new ConcurrentHashMap<>();
    private final Set<ChildAllocator> children = ConcurrentHashMap.newKeySet();
    /** Calls hold it shared; close holds it exclusively, so that no allocation slips past a close. */
    private final ReentrantReadWriteLock closing = new ReentrantReadWriteLock();
    private boolean closed;

    ChildAllocator(PageAllocator pages, ChildAllocator parent, String name, long limit, OnClose onClose) {
        this.pages = pages;
        this.parent = parent;
        this.name = Objects.requireNonNull(name, "name");
        this.onClose = Objects.requireNonNull(onClose, "onClose");
        if (limit < 0) {
            throw new IllegalArgumentException("the limit of '" + name + "' must not be negative: " + limit);
        }
        this.limit = limit;
        this.accounting = parent == null ? new Object() : parent.accounting;
    }

    /** A child of this one, whose use counts against this one's limit too; refuses to close while it has live allocations. */
    public ChildAllocator newChild(String name, long limitBytes) {
        return newChild(name, limitBytes, OnClose.REFUSE);
    }

    /**
     * A child of this one, whose use counts against this one's limit too.
     *
     * @throws IllegalArgumentException if the limit is negative
     * @throws IllegalStateException    if this child or the allocator is closed
     */
    public ChildAllocator newChild(String name, long limitBytes, OnClose onClose) {
        ChildAllocator child = new ChildAllocator(pages, this, name, limitBytes, onClose);
        closing.readLock().lock();
        try {
            ensureOpen();
            children.add(child);
        } finally {
            closing.readLock().unlock();
        }
        return child;
    }

    /**
     * Allocates as {@link PageAllocator#allocate(long)} does, charged to this child and its parents.
     *
     * @throws LimitExceededException if this child or a parent would go over its limit; nothing is charged
     * @throws IllegalStateException  if this child or the allocator is closed
     */
    @Override
    public MemorySegment allocate(long byteSize) {
        return allocate(byteSize, 1);
    }

    /**
     * Allocates as {@link PageAllocator#allocate(long, long)} does, charged to this child and its
     * parents (the usable size of {@code byteSize}).
     *
     * @throws LimitExceededException if this child or a parent would go over its limit; nothing is charged
     * @throws IllegalStateException  if this child or the allocator is closed
     */
    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment) {
        closing.readLock().lock();
        try {
            ensureOpen(); // "closed" comes first, as for the allocator's own calls
            long charge = pages.usableSize(byteSize, byteAlignment); // what the allocator really takes
            checkFits(charge, byteSize); // no memory taken for a request over a limit as the use stands
            MemorySegment segment = pages.allocate(byteSize, byteAlignment);
            try {
                charge(charge, byteSize);
            } catch (LimitExceededException raced) { // another request took the room meanwhile
                pages.free(segment);
                throw raced;
            }
            Held freedBehindOurBack = live.put(segment.address(), new Held(segment, charge));
            if (freedBehindOurBack != null) {
                // The user freed it through the parent allocator, which has now handed its address
                // out again: that allocation is gone, and so is its charge.
                uncharge(freedBehindOurBack.charge);
            }
            return segment;
        } finally {
            closing.readLock().unlock();
        }
    }

    /**
     * Frees a segment that this child handed out, and gives its charge back.
     *
     * @throws IllegalArgumentException if this child did not hand it out (another child's, the
     *         parent allocator's), or it was freed already; nothing changes
     * @throws IllegalStateException    if this child or the allocator is closed
     */
    public void free(MemorySegment segment) {
        Objects.requireNonNull(segment, "segment");
        closing.readLock().lock();
        try {
            ensureOpen();
            Held held = live.get(segment.address());
            MemorySegment recorded = held == null ? null : held.segment;
            if (recorded == null || recorded.byteSize() != segment.byteSize() || recorded.scope() != segment.scope()) {
                throw pages.refusedFree(new IllegalArgumentException("the segment at 0x" + Long.toHexString(segment.address())
                        + " of " + segment.byteSize() + " bytes was not allocated through " + describe()
                        + ", or was freed already"), segment.address()); // the debug mode names the first free
            }
            if (!live.remove(segment.address(), held)) {
                throw new IllegalStateException("the segment at 0x" + Long.toHexString(segment.address())
                        + " is being freed by another thread");
            }
            try {
                pages.free(recorded);
            } catch (RuntimeException refused) {
                live.put(segment.address(), held); // refused (freed behind the child's back, or a closed allocator): as it was
                throw refused;
            }
            uncharge(held.charge);
        } finally {
            closing.readLock().unlock();
        }
    }

    /** Refuses, charging nothing, a request that would take any level from this one up over its limit now. */
    private void checkFits(long bytes, long asked) {
        for (ChildAllocator level = this; level != null; level = level.parent) {
            long inUse = level.used;
            if (inUse + bytes > level.limit) {
                throw new LimitExceededException(level.describe() + " cannot take " + bytes + " more bytes (for a request of "
                        + asked + "): its limit is " + level.limit + " and " + inUse + " are in use; chain: " + chain(), level.name);
            }
        }
    }

    /** Charges every level from this one up, all or nothing, and all at once for the tree. */
    private void charge(long bytes, long asked) {
        synchronized (accounting) {
            checkFits(bytes, asked);
            for (ChildAllocator level = this; level != null; level = level.parent) {
                level.used += bytes;
            }
        }
    }

    private void uncharge(long bytes) {
        synchronized (accounting) {
            for (ChildAllocator level = this; level != null; level = level.parent) {
                level.used -= bytes;
            }
        }
    }

    /** Bytes charged to this child now: its own allocations and its children's. */
    public long usedBytes() {
        return used;
    }

    /** The most bytes this child and its children may have charged at once. */
    public long limitBytes() {
        return limit;
    }

    public String name() {
        return name;
    }

    /** Allocations made through this child itself (not its children) and not yet freed. */
    public int liveAllocations() {
        return live.size();
    }

    /**
     * Closes this child: see the class comment.
     *
     * @throws IllegalStateException if it has open children, or live allocations and
     *         {@link OnClose#REFUSE}; it stays open then, and nothing changes. With
     *         {@link OnClose#FREE}, as {@link #free} throws if the allocator refuses to free one (it
     *         was freed behind the child's back, or the allocator is closed): that one stays live
     *         and charged, those freed before it stay freed, and the child stays open
     */
    @Override
    public void close() {
        closing.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            if (!children.isEmpty()) {
                throw new IllegalStateException(describe() + " has " + children.size() + " open children: "
                        + children.stream().map(ChildAllocator::describe).toList() + "; close them first");
            }
            if (!live.isEmpty() && onClose == OnClose.REFUSE) {
                long bytes = live.values().stream().mapToLong(held -> held.segment.byteSize()).sum();
                throw new IllegalStateException(describe() + " still has " + live.size() + " live allocations ("
                        + bytes + " bytes), at " + firstAddresses() + ": free them, or make the child with OnClose.FREE");
            }
            for (Held held : List.copyOf(live.values())) {
                live.remove(held.segment.address());
                try {
                    pages.free(held.segment);
                } catch (RuntimeException refused) {
                    // As free does: still live and charged, and the child stays open, so that its
                    // use and its parents' never keep a charge that no live allocation explains.
                    live.put(held.segment.address(), held);
                    throw refused;
                }
                uncharge(held.charge);
            }
            closed = true;
        } finally {
            closing.writeLock().unlock();
        }
        if (parent != null) {
            parent.children.remove(this);
        }
    }

    /** The first few live allocations: their addresses, with their allocation sites in the debug mode. */
    private List<String> firstAddresses() {
        List<String> addresses = new ArrayList<>();
        for (Long address : live.keySet()) {
            if (addresses.size() == 8) {
                addresses.add("...");
                break;
            }
            String site = pages.allocationSite(address);
            addresses.add(site.isEmpty() ? "0x" + Long.toHexString(address) : site);
        }
        return addresses;
    }

    /** This child and the allocator are open: a child of a closed allocator can do nothing. */
    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(describe() + " is closed");
        }
        pages.ensureOpen();
    }

    private String describe() {
        return "child allocator '" + name + "'";
    }

    /** This child and its parents, with their limits and use: "'conn' 100/1024 <- 'tenant' 900/4096 <- root". */
    private String chain() {
        StringBuilder chain = new StringBuilder();
        for (ChildAllocator level = this; level != null; level = level.parent) {
            chain.append('\'').append(level.name).append("' ").append(level.used).append('/').append(level.limit)
                    .append(" <- ");
        }
        return chain.append("root").toString();
    }

    @Override
    public String toString() {
        return "ChildAllocator[" + chain() + (closed ? ", closed" : "") + "]";
    }
}
