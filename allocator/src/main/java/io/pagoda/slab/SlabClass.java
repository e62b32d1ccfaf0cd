package io.pagoda.slab;

import io.pagoda.region.PageDescriptors;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

import static io.pagoda.region.PageDescriptors.NO_FRAME;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * The slabs of one size class (the kernel's {@code kmem_cache} with its node's partial list):
 * blocks of {@code 2^slabOrder} frames cut into equal objects, handed to and taken back from the
 * per-thread magazines a batch at a time, under one lock.
 *
 * <h2>Where the state lives</h2>
 * Nothing per slab or per object on the Java heap. A slab's state is in its head frame's
 * descriptor: {@code freelist} (index of the first free object, or -1 when full), {@code inuse}
 * (objects out: in magazines or with users), and {@code next}/{@code prev}, which link the slabs
 * that have free objects into this class's partial list. Every frame of the slab carries the slab
 * word (class and frame index), by which any object finds its slab. A free object holds, in its
 * own first 16 bytes, the free marker (8 bytes, see {@link Slabs}) and the index of the next free
 * object of its slab (4 bytes): the in-object free list of SLUB.
 *
 * <h2>Invariants, at every point where the lock is free</h2>
 * <ul>
 *   <li>every slab of the class is either on the partial list (it has a free object) or full;</li>
 *   <li>in each slab, objects on its free list + {@code inuse} = objects per slab;</li>
 *   <li>{@link #emptySlabs} slabs on the partial list have {@code inuse == 0}, at most
 *       {@code keepEmpty} of them: past that an empty slab goes back to the page allocator, so a
 *       class that swings between one more and one fewer slab does not allocate and free a block
 *       each time (the hysteresis), and an idle class holds at most {@code keepEmpty} slabs.</li>
 * </ul>
 * New slabs are carved outside the lock (getting a block may wait for the page allocator), and
 * linked in under it.
 */
final class SlabClass {

    private final int sizeClass;
    private final long objectSize;
    private final int objects;
    private final int slabOrder;
    private final int pageShift;
    private final long magic;
    private final int keepEmpty;
    private final PageDescriptors descriptors;
    private final MemorySegment memory;
    private final FrameSource frames;
    private final Slabs.Marker marker;
    private final ReentrantLock lock = new ReentrantLock();

    // Guarded by lock.
    private int partialHead = NO_FRAME;
    private long slabs;
    private long emptySlabs;
    private long objectsOut;

    SlabClass(int sizeClass, SizeClasses classes, int pageShift, int keepEmpty, PageDescriptors descriptors,
              MemorySegment memory, FrameSource frames, Slabs.Marker marker) {
        this.sizeClass = sizeClass;
        this.objectSize = classes.size(sizeClass);
        this.objects = classes.objects(sizeClass);
        this.slabOrder = classes.slabOrder(sizeClass);
        this.pageShift = pageShift;
        this.magic = classes.magic(sizeClass);
        this.keepEmpty = keepEmpty;
        this.descriptors = descriptors;
        this.memory = memory;
        this.frames = frames;
        this.marker = marker;
    }

    /**
     * Takes up to {@code n} free objects into {@code into[0 .. n)}, carving new slabs when the
     * partial list runs dry. Each object still carries the free marker.
     *
     * @return how many were taken: fewer than n only when the page allocator has no block left
     */
    int take(long[] into, int n) {
        int taken = 0;
        try {
            while (true) {
                lock.lock();
                try {
                    while (taken < n && partialHead != NO_FRAME) {
                        into[taken] = popLocked(partialHead);
                        taken++;
                    }
                } finally {
                    lock.unlock();
                }
                if (taken == n || !addSlab()) {
                    return taken;
                }
            }
        } catch (RuntimeException | Error failure) {
            // A corrupt slab or a debug-mode report cut the batch short: what it took goes back
            // (each object still carries its free marker), so that no healthy object is lost.
            if (taken > 0) {
                giveBack(into, 0, taken);
            }
            throw failure;
        }
    }

    /**
     * Takes one free object, as {@link #take} does, without an array: for the ways around a
     * magazine (busy, or not made), which may be taken for every object a thread allocates.
     *
     * @return its offset, still carrying the free marker; {@link Slabs#NO_OBJECT} when the page
     *         allocator has no block left
     */
    long takeOne() {
        while (true) {
            lock.lock();
            try {
                if (partialHead != NO_FRAME) {
                    return popLocked(partialHead);
                }
            } finally {
                lock.unlock();
            }
            if (!addSlab()) {
                return Slabs.NO_OBJECT;
            }
        }
    }

    /** Carves a new slab from a fresh block, outside the lock, and links it in; false if no block is left. */
    private boolean addSlab() {
        int head = frames.allocate(slabOrder);
        if (head == NO_FRAME) {
            return false;
        }
        carve(head);
        lock.lock();
        try {
            slabs++;
            emptySlabs++;
            pushPartialLocked(head);
        } finally {
            lock.unlock();
        }
        return true;
    }

    /** Takes the first free object of a slab on the partial list; unlinks the slab if that fills it. */
    private long popLocked(int head) {
        int index = descriptors.freelist(head);
        long offset = objectOffset(head, index);
        int next = memory.get(JAVA_INT_UNALIGNED, offset + Long.BYTES);
        if (next < -1 || next >= objects) {
            throw new IllegalStateException("slab at 0x" + Long.toHexString(offset - index * objectSize)
                    + " of " + objectSize + "-byte objects is corrupt: the free object at offset " + index * objectSize
                    + " was written after it was freed (a use after free)");
        }
        int inuse = descriptors.inuse(head);
        if (inuse == 0) {
            emptySlabs--;
        }
        descriptors.setInuse(head, inuse + 1);
        descriptors.setFreelist(head, next);
        objectsOut++;
        if (next == -1) {
            unlinkLocked(head);
        }
        return offset;
    }

    /**
     * Gives back {@code objects[from .. from + n)}, each to its own slab. A slab that becomes
     * empty is kept for reuse, up to {@code keepEmpty}, and otherwise goes back to the page allocator.
     */
    void giveBack(long[] offsets, int from, int n) {
        lock.lock();
        try {
            for (int i = from; i < from + n; i++) {
                giveBackLocked(offsets[i]);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Gives back one object, as {@link #giveBack} does, without an array. */
    void giveBackOne(long offset) {
        lock.lock();
        try {
            giveBackLocked(offset);
        } finally {
            lock.unlock();
        }
    }

    private void giveBackLocked(long offset) {
        int pfn = (int) (offset >>> pageShift);
        int head = pfn - (descriptors.slab(pfn) >>> Slabs.FRAME_INDEX_SHIFT);
        long within = offset - ((long) head << pageShift);
        int index = (int) Math.unsignedMultiplyHigh(magic, within);
        int first = descriptors.freelist(head);
        memory.set(JAVA_INT_UNALIGNED, offset + Long.BYTES, first);
        descriptors.setFreelist(head, index);
        int inuse = descriptors.inuse(head) - 1;
        descriptors.setInuse(head, inuse);
        objectsOut--;
        if (first == -1) {
            pushPartialLocked(head); // it was full
        }
        if (inuse == 0 && ++emptySlabs > keepEmpty) {
            releaseLocked(head);
        }
    }

    /** Gives every empty slab back to the page allocator (a shrinker's work, and trim's). */
    void releaseEmpty() {
        lock.lock();
        try {
            for (int head = partialHead; head != NO_FRAME; ) {
                int next = descriptors.next(head);
                if (descriptors.inuse(head) == 0) {
                    releaseLocked(head);
                }
                head = next;
            }
        } finally {
            lock.unlock();
        }
    }

    private void releaseLocked(int head) {
        unlinkLocked(head);
        emptySlabs--;
        slabs--;
        for (int i = 0; i < 1 << slabOrder; i++) {
            descriptors.setSlab(head + i, 0);
        }
        descriptors.setFreelist(head, 0);
        descriptors.setInuse(head, 0);
        descriptors.setNext(head, 0);
        descriptors.setPrev(head, 0);
        descriptors.setInfo(head, descriptors.info(head) & ~PageDescriptors.SLAB_FLAG);
        frames.free(head, slabOrder);
    }

    /**
     * Makes a fresh block a slab: the slab flag and slab words, and every object free and chained
     * in address order. The block is ours alone until it is linked in.
     */
    private void carve(int head) {
        descriptors.setInfo(head, descriptors.info(head) | PageDescriptors.SLAB_FLAG);
        int classWord = sizeClass + 1;
        for (int i = 0; i < 1 << slabOrder; i++) {
            descriptors.setSlab(head + i, i << Slabs.FRAME_INDEX_SHIFT | classWord);
        }
        long base = (long) head << pageShift;
        for (int index = 0; index < objects; index++) {
            long offset = base + index * objectSize;
            memory.set(JAVA_LONG_UNALIGNED, offset, marker.of(offset));
            memory.set(JAVA_INT_UNALIGNED, offset + Long.BYTES, index + 1 < objects ? index + 1 : -1);
        }
        descriptors.setFreelist(head, 0);
        descriptors.setInuse(head, 0);
    }

    private long objectOffset(int head, int index) {
        return ((long) head << pageShift) + index * objectSize;
    }

    private void pushPartialLocked(int head) {
        descriptors.setPrev(head, NO_FRAME);
        descriptors.setNext(head, partialHead);
        if (partialHead != NO_FRAME) {
            descriptors.setPrev(partialHead, head);
        }
        partialHead = head;
    }

    private void unlinkLocked(int head) {
        int prev = descriptors.prev(head);
        int next = descriptors.next(head);
        if (prev == NO_FRAME) {
            partialHead = next;
        } else {
            descriptors.setNext(prev, next);
        }
        if (next != NO_FRAME) {
            descriptors.setPrev(next, prev);
        }
    }

    /** The slabs, the empty slabs and the objects out, read together under the lock. */
    Slabs.ClassCounts counts() {
        lock.lock();
        try {
            return new Slabs.ClassCounts(slabs, emptySlabs, objectsOut);
        } finally {
            lock.unlock();
        }
    }

    /** Runs an audit under the lock, which the audit may take again; for audits of every class at once. */
    void whileLocked(Runnable audit) {
        lock.lock();
        try {
            audit.run();
        } finally {
            lock.unlock();
        }
    }

    /** Visits the head of every slab on the partial list, under the lock; for audits. */
    void forEachPartialSlab(IntConsumer visitor) {
        lock.lock();
        try {
            for (int head = partialHead; head != NO_FRAME; head = descriptors.next(head)) {
                visitor.accept(head);
            }
        } finally {
            lock.unlock();
        }
    }
}
