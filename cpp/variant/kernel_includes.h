#include <ouroboros/kernel_abi.h>

#include <cmath>
#include <cstdint>
