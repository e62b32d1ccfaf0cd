package io.pagoda;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * JFR event {@code io.pagoda.CacheDrain}: every per-thread page cache, object magazine and empty
 * slab given back to the zones ({@link PageAllocator#trim()}, the kernel's
 * {@code drain_all_pages}), which the slow path of an allocation does first, and a user may ask
 * for. Its stack trace tells the two apart.
 *
 * <p>The figures before the drain are read only when the event is recorded.
 */
@Name("io.pagoda.CacheDrain")
@Label("Cache Drain")
@Category({"Pagoda", "Allocation"})
@Description("Every per-thread cache, magazine and empty slab given back to the zones: an allocation's slow path, or trim()")
final class CacheDrainEvent extends Event {

    @Label("Cached")
    @Description("Bytes the per-thread page caches held before the drain")
    @DataAmount
    long cachedBytes;

    @Label("Returned")
    @Description("Bytes the zones' free memory grew by during the drain (net of what other threads took meanwhile)")
    @DataAmount
    long returnedBytes;

    /** The zones' free bytes before the drain; transient: JFR does not record it. */
    private transient long freeBytesBefore;

    /** A begun event, with the figures before the drain if it will be recorded. */
    static CacheDrainEvent started(PageAllocator pages) {
        CacheDrainEvent event = new CacheDrainEvent();
        if (event.isEnabled()) {
            event.cachedBytes = pages.cachedBytes();
            event.freeBytesBefore = pages.freeBytes();
        }
        event.begin();
        return event;
    }

    /** Ends the event and commits it, if a recording asks for it. */
    void end(PageAllocator pages) {
        if (shouldCommit()) {
            returnedBytes = Math.max(0, pages.freeBytes() - freeBytesBefore);
            commit();
        }
    }
}
