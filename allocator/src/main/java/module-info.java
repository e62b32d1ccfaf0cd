/**
 * Pagoda: the Linux kernel's physical page allocator, for off-heap memory on the JVM.
 *
 * <p>Only {@link io.pagoda} is exported. The layers below it ({@code region}, {@code buddy}) are
 * the allocator's internals and stay inside the module.
 */
module io.pagoda {
    exports io.pagoda;
}
