package io.pagoda;

/**
 * Thrown when no zone has a free block large enough for a request. The allocator is unchanged and
 * serves again as soon as memory is freed.
 *
 * <p>It is thrown only after the allocator tried to get memory back: from the per-thread caches
 * and empty slabs, then from the registered {@link Shrinker}s. The message says what was asked
 * and carries two snapshots taken at the failure: {@link #buddyinfo()}, the free blocks per order
 * in /proc/buddyinfo format, to tell exhaustion (few free frames) from fragmentation (many free
 * frames, all in small blocks); and {@link #zoneinfo()}, each zone's free pages against its
 * watermarks and the reclaim counters, in the manner of /proc/zoneinfo.
 */
public final class OutOfPagesException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int order;
    private final String buddyinfo;
    private final String zoneinfo;

    OutOfPagesException(String message, int order, String buddyinfo, String zoneinfo) {
        super(message + "\n" + buddyinfo + zoneinfo);
        this.order = order;
        this.buddyinfo = buddyinfo;
        this.zoneinfo = zoneinfo;
    }

    /** The order that could not be served. */
    public int order() {
        return order;
    }

    /** The free blocks per order at the failure, in /proc/buddyinfo format. */
    public String buddyinfo() {
        return buddyinfo;
    }

    /** Each zone's free pages, watermarks and counters at the failure, as /proc/zoneinfo shows them. */
    public String zoneinfo() {
        return zoneinfo;
    }
}
