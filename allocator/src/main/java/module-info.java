/**
 * Pagoda: the Linux kernel's physical page allocator, for off-heap memory on the JVM.
 *
 * <p>Only {@link io.pagoda} is exported. The layers below it ({@code region}, {@code buddy}) are
 * the allocator's internals and stay inside the module.
 *
 * <p>It reads {@code jdk.jfr}, for the events it records on its slow paths; no type of it
 * appears in the API, so it is not required transitively.
 */
module io.pagoda {
    requires jdk.jfr;

    exports io.pagoda;
}
