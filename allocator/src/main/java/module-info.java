/**
 * Pagoda: the Linux kernel's physical page allocator, for off-heap memory on the JVM.
 *
 * <p>Only {@link io.pagoda} is exported. The layers below it are the allocator's internals and
 * stay inside the module: {@code region} (the region and its page descriptors), {@code buddy} (the
 * zones' free lists), {@code pcp} (the per-thread caches), {@code slab} (small objects),
 * {@code reclaim} (shrinkers and the background reclaimer) and {@code stats} (the text reports).
 *
 * <p>It reads {@code jdk.jfr}, for the events it records on its slow paths, and
 * {@code java.management}, for the MXBean an allocator registers when asked; no type of either
 * appears in the API, so neither is required transitively.
 */
module io.pagoda {
    requires jdk.jfr;
    requires java.management;

    exports io.pagoda;
}
