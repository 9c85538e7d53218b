throw new Error(
  '@napi-rs/wasm-tools is not installed: Ouroboros builds the oracle addon for this host only (npm run build:oracle); cross-compilation and WebAssembly targets are not supported.',
);
