// A valid shared object that exports something, but not ouro_kernel_entry:
// what the loader meets when it is pointed at an ordinary library.
extern "C" __attribute__((visibility("default"))) int not_a_kernel(void) { return 0; }
