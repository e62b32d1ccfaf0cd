package io.pagoda;

/**
 * Thrown when no zone has a free block large enough for a request. The allocator is unchanged and
 * serves again as soon as memory is freed.
 *
 * <p>The message says what was asked; {@link #buddyinfo()} is a snapshot of the free blocks per
 * order taken at the failure, in /proc/buddyinfo format, to tell exhaustion (few free frames)
 * from fragmentation (many free frames, all in small blocks).
 */
public final class OutOfPagesException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int order;
    private final String buddyinfo;

    OutOfPagesException(String message, int order, String buddyinfo) {
        super(message + "\n" + buddyinfo);
        this.order = order;
        this.buddyinfo = buddyinfo;
    }

    /** The order that could not be served. */
    public int order() {
        return order;
    }

    /** The free blocks per order at the failure, in /proc/buddyinfo format. */
    public String buddyinfo() {
        return buddyinfo;
    }
}
