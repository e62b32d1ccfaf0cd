package io.pagoda.buddy;

/**
 * A zone's watermarks in frames (the kernel's {@code zone->_watermark}): below {@code low} the
 * background reclaimer is woken and works until free memory is back above {@code high}; below
 * {@code min} ordinary allocations fail over to the caller's own reclaim, and only critical ones
 * may take what is left.
 *
 * @param min  frames kept for critical allocations and for reclaim itself
 * @param low  the reclaimer is woken when free frames fall below this
 * @param high the reclaimer stops when free frames are back above this
 */
public record Watermarks(long min, long low, long high) {

    /** The kernel's watermark_scale_factor default: the low-min gap is at least 0.1% of the zone. */
    private static final long SCALE_FACTOR = 10;
    private static final long SCALE_DIVISOR = 10_000;

    public Watermarks {
        if (min < 0 || low < min || high < low) {
            throw new IllegalArgumentException("watermarks must be 0 <= min <= low <= high: " + min + ", " + low + ", " + high);
        }
    }

    /**
     * Watermarks derived as the kernel's {@code __setup_per_zone_wmarks} does: low and high sit
     * above min by a quarter of min, or by 0.1% of the zone if that is more, and twice that.
     */
    public static Watermarks derive(long managedFrames, long minFrames) {
        long gap = Math.max(minFrames / 4, managedFrames * SCALE_FACTOR / SCALE_DIVISOR);
        return new Watermarks(minFrames, minFrames + gap, minFrames + 2 * gap);
    }

    /**
     * The kernel's {@code min_free_kbytes} default: sqrt(16 * memory in KiB) KiB, from 128 KiB to
     * 256 MiB, and never more than a quarter of the memory; in frames of {@code 1 << pageShift}.
     */
    public static long defaultMinFrames(long managedFrames, int pageShift) {
        long kibibytes = managedFrames << (pageShift - 10);
        long minKibibytes = Math.clamp((long) Math.sqrt(16.0 * kibibytes), 128, 256 * 1024);
        return Math.min(managedFrames / 4, minKibibytes >> (pageShift - 10));
    }
}
