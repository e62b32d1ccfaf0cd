/**
 * Agrona {@code MutableDirectBuffer} views of Pagoda memory, for services built on Agrona, Aeron
 * and SBE. A module of its own, so that {@code io.pagoda} never needs Agrona.
 *
 * <p>Agrona 2.x is an automatic module ({@code org.agrona}, from its manifest); its types are in
 * this module's API, hence {@code requires transitive}. At run time Agrona needs
 * {@code --add-exports java.base/jdk.internal.misc=org.agrona} on the module path
 * ({@code =ALL-UNNAMED} on the class path), and Pagoda {@code --enable-native-access=io.pagoda}.
 */
@SuppressWarnings("requires-transitive-automatic") // Agrona ships no module-info, only its name
module io.pagoda.agrona {
    requires transitive io.pagoda;
    requires transitive org.agrona;
    exports io.pagoda.agrona;
}
