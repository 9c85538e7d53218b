int32_t wave_step(const ouro_host* host, const ouro_geometry* geometry, const ouro_state* state, uint64_t steps) {
  if (!supported(*geometry)) return OURO_ERR_UNSUPPORTED;
  if (geometry->precision == OURO_PRECISION_F64) {
    step_any<double>(*host, *geometry, *state, steps);
  } else {
    step_any<float>(*host, *geometry, *state, steps);
  }
  return OURO_OK;
}

const ouro_kernel_table table = {OURO_KERNEL_ABI_VERSION, sizeof(ouro_kernel_table), "VARIANT_KERNEL_NAME", wave_step, readout};
