/** Runnable programs that use Pagoda through its exported API only. */
module io.pagoda.examples {
    requires io.pagoda;
}
