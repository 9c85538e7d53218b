extern "C" __attribute__((visibility("default"))) const ouro_kernel_table* ouro_kernel_entry(void) { return &table; }
