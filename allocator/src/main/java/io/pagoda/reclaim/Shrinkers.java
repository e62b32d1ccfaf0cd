package io.pagoda.reclaim;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import java.util.function.LongUnaryOperator;

/**
 * The registered shrinkers (the kernel's {@code shrinker_list}): caches outside the allocator
 * that can give memory back when asked. Each is asked in two steps, as the kernel's
 * {@code count_objects} and {@code scan_objects}: how many bytes could you free, then free up to
 * this many.
 *
 * <p>A thread inside a shrinker is "in reclaim" (the kernel's {@code PF_MEMALLOC}): what it
 * allocates there may take the memory below the min watermark, and does not start another
 * reclaim, so that freeing memory never waits for memory. A shrinker that throws is counted and
 * logged, and the others are still asked.
 */
public final class Shrinkers {

    private static final System.Logger LOG = System.getLogger("io.pagoda");

    /**
     * A registered shrinker, and the calls of it running now. A call counts itself in and then
     * reads {@code removed}; an unregister sets {@code removed} and then reads the count: both
     * sequentially consistent, so either the call sees it removed and backs out, or the unregister
     * sees the call and waits for it.
     */
    private static final class Entry {
        final Object owner;
        final LongSupplier freeable;
        final LongUnaryOperator shrink;
        final AtomicInteger calls = new AtomicInteger();
        volatile boolean removed;

        Entry(Object owner, LongSupplier freeable, LongUnaryOperator shrink) {
            this.owner = owner;
            this.freeable = freeable;
            this.shrink = shrink;
        }
    }

    private static final long UNREGISTER_BACKOFF_NANOS = 20_000;

    private final List<Entry> entries = new CopyOnWriteArrayList<>();
    private final ThreadLocal<Boolean> inReclaim = new ThreadLocal<>();
    /** The shrinker the current thread is calling, if any: an unregister from inside it waits for the others only. */
    private final ThreadLocal<Entry> calling = new ThreadLocal<>();
    private final AtomicLong failures = new AtomicLong();

    /**
     * Registers a shrinker.
     *
     * @param owner     what unregisters it, and names it in logs
     * @param freeable  answers how many bytes it could free now
     * @param shrink    frees up to the bytes it is given, and answers how many it freed
     * @throws IllegalArgumentException if owner is registered already
     */
    public void register(Object owner, LongSupplier freeable, LongUnaryOperator shrink) {
        Objects.requireNonNull(owner, "shrinker");
        synchronized (entries) {
            if (indexOf(owner) >= 0) {
                throw new IllegalArgumentException("shrinker " + owner + " is registered already");
            }
            entries.add(new Entry(owner, Objects.requireNonNull(freeable), Objects.requireNonNull(shrink)));
        }
    }

    /**
     * Unregisters a shrinker, and waits until no call of it runs (the kernel's
     * {@code unregister_shrinker}): once this returns, the owner may tear down what the shrinker
     * frees. From inside the shrinker's own call, it waits for the other threads' calls only.
     *
     * @return false if it was not registered
     */
    public boolean unregister(Object owner) {
        Entry entry;
        synchronized (entries) {
            int index = indexOf(owner);
            if (index < 0) {
                return false;
            }
            entry = entries.remove(index);
        }
        entry.removed = true;
        int own = calling.get() == entry ? 1 : 0;
        while (entry.calls.get() > own) {
            LockSupport.parkNanos(UNREGISTER_BACKOFF_NANOS);
        }
        return true;
    }

    private int indexOf(Object owner) {
        for (int i = 0; i < entries.size(); i++) {
            if (entries.get(i).owner == owner) {
                return i;
            }
        }
        return -1;
    }

    /** Whether the current thread is running a shrinker, or is the reclaimer. */
    public boolean inReclaim() {
        return inReclaim.get() != null;
    }

    /** Marks the current thread as in reclaim for as long as it lives: for the reclaimer's own thread. */
    void enterReclaimForever() {
        inReclaim.set(Boolean.TRUE);
    }

    /**
     * Asks the shrinkers to free {@code bytes} between them, each a share in proportion to what it
     * says it could free (the kernel's {@code do_shrink_slab}), then the ones that still can for
     * whatever is missing. Asked by a thread not in reclaim already (not the reclaimer), this is
     * direct reclaim, and is recorded as a {@link DirectReclaimEvent}.
     *
     * @return the bytes they report freed
     */
    public long shrink(long bytes) {
        if (inReclaim.get() != null) {
            return shrinkInReclaim(bytes);
        }
        DirectReclaimEvent event = new DirectReclaimEvent();
        event.begin();
        inReclaim.set(Boolean.TRUE);
        long freed;
        try {
            freed = shrinkInReclaim(bytes);
        } finally {
            inReclaim.remove();
        }
        if (event.shouldCommit()) {
            event.requestedBytes = bytes;
            event.reclaimedBytes = freed;
            event.commit();
        }
        return freed;
    }

    /** {@link #shrink}, on a thread marked in reclaim. */
    private long shrinkInReclaim(long bytes) {
        List<Entry> all = List.copyOf(entries);
        long[] freeable = new long[all.size()];
        double total = 0;
        for (int i = 0; i < freeable.length; i++) {
            freeable[i] = count(all.get(i));
            total += freeable[i];
        }
        if (total == 0) {
            return 0;
        }
        long freed = 0;
        for (int i = 0; i < freeable.length && freed < bytes; i++) {
            long share = (long) Math.ceil(bytes * (freeable[i] / total));
            freed += scan(all.get(i), Math.min(share, freeable[i]));
        }
        for (int i = 0; i < freeable.length && freed < bytes; i++) {
            freed += scan(all.get(i), bytes - freed);
        }
        return freed;
    }

    /** Shrinkers that threw, since the allocator was made. */
    public long failures() {
        return failures.get();
    }

    private long count(Entry entry) {
        if (!enter(entry)) {
            return 0;
        }
        try {
            return Math.max(0, entry.freeable.getAsLong());
        } catch (RuntimeException failure) {
            fail(entry, "count", failure);
            return 0;
        } finally {
            exit(entry);
        }
    }

    private long scan(Entry entry, long bytes) {
        if (bytes <= 0 || !enter(entry)) {
            return 0;
        }
        try {
            return Math.max(0, entry.shrink.applyAsLong(bytes));
        } catch (RuntimeException failure) {
            fail(entry, "shrink", failure);
            return 0;
        } finally {
            exit(entry);
        }
    }

    /** Counts a call in; false, counted out again, if the shrinker was unregistered meanwhile. */
    private boolean enter(Entry entry) {
        entry.calls.incrementAndGet();
        if (entry.removed) {
            entry.calls.decrementAndGet();
            return false;
        }
        calling.set(entry);
        return true;
    }

    private void exit(Entry entry) {
        calling.remove();
        entry.calls.decrementAndGet();
    }

    private void fail(Entry entry, String step, RuntimeException failure) {
        failures.incrementAndGet();
        LOG.log(System.Logger.Level.WARNING, "shrinker " + entry.owner + " threw in " + step + "; skipped", failure);
    }
}
