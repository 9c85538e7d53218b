//! The floating-point control state a kernel could leave changed behind it:
//! MXCSR (flush-to-zero, denormals-are-zero, rounding, exception masks) and
//! the x87 control word (precision, rounding, exception masks). A change
//! would alter every later computation of the process that called the
//! kernel, so the worker reads both before and after every call and reports
//! any difference as a verdict naming the bits.

use std::arch::asm;

/// MXCSR's sticky exception flags (bits 0-5) change with ordinary
/// arithmetic; only the control bits are compared.
const MXCSR_CONTROL: u32 = !0x3f;
/// The x87 control word's defined bits: masks 0-5, precision 8-9, rounding 10-11.
const X87_CONTROL: u16 = 0x0f3f;

const MXCSR_BITS: [(u32, &str); 9] = [
    (1 << 6, "DAZ (denormals are zero)"),
    (1 << 7, "invalid-operation mask"),
    (1 << 8, "denormal mask"),
    (1 << 9, "divide-by-zero mask"),
    (1 << 10, "overflow mask"),
    (1 << 11, "underflow mask"),
    (1 << 12, "precision mask"),
    (3 << 13, "rounding control"),
    (1 << 15, "FTZ (flush to zero)"),
];

const X87_BITS: [(u16, &str); 3] = [
    (0x003f, "exception masks"),
    (0x0300, "precision control"),
    (0x0c00, "rounding control"),
];

/// The control state of the calling thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FpControl {
    pub mxcsr: u32,
    pub x87: u16,
}

impl FpControl {
    pub fn read() -> Self {
        let mut mxcsr: u32 = 0;
        let mut x87: u16 = 0;
        // SAFETY: both instructions only store the control state to memory we own.
        unsafe {
            asm!("stmxcsr [{}]", in(reg) &mut mxcsr, options(nostack));
            asm!("fnstcw [{}]", in(reg) &mut x87, options(nostack));
        }
        FpControl { mxcsr, x87 }
    }

    /// Puts this state back on the calling thread.
    pub fn restore(&self) {
        // SAFETY: loads a control state read earlier by `read`, so it is valid.
        unsafe {
            asm!("ldmxcsr [{}]", in(reg) &self.mxcsr, options(nostack));
            asm!("fldcw [{}]", in(reg) &self.x87, options(nostack));
        }
    }

    /// The control bits that differ from `before`, named; None when none do.
    pub fn changes_from(&self, before: &FpControl) -> Option<String> {
        let mxcsr = (self.mxcsr ^ before.mxcsr) & MXCSR_CONTROL;
        let x87 = (self.x87 ^ before.x87) & X87_CONTROL;
        let mut named: Vec<String> = MXCSR_BITS
            .iter()
            .filter(|(mask, _)| mxcsr & mask != 0)
            .map(|(_, name)| format!("MXCSR {name}"))
            .collect();
        named.extend(
            X87_BITS
                .iter()
                .filter(|(mask, _)| x87 & mask != 0)
                .map(|(_, name)| format!("x87 {name}")),
        );
        (!named.is_empty()).then(|| {
            format!(
                "{} (MXCSR {:#06x} -> {:#06x}, x87 control word {:#06x} -> {:#06x})",
                named.join(", "),
                before.mxcsr,
                self.mxcsr,
                before.x87,
                self.x87
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::FpControl;

    #[test]
    fn ftz_and_daz_are_named_and_restore_puts_them_back() {
        let before = FpControl::read();
        let changed = FpControl {
            mxcsr: before.mxcsr | 0x8040,
            x87: before.x87,
        };
        changed.restore();
        let after = FpControl::read();
        before.restore();
        assert_eq!(after, changed);
        let reason = after.changes_from(&before).unwrap();
        assert!(reason.contains("FTZ") && reason.contains("DAZ"), "{reason}");
        assert_eq!(FpControl::read(), before);
    }

    #[test]
    fn sticky_exception_flags_are_not_a_change() {
        let before = FpControl::read();
        let flagged = FpControl {
            mxcsr: before.mxcsr | 0x3f,
            x87: before.x87,
        };
        assert_eq!(flagged.changes_from(&before), None);
        let rounding = FpControl {
            mxcsr: before.mxcsr,
            x87: before.x87 ^ 0x0c00,
        };
        assert!(rounding
            .changes_from(&before)
            .unwrap()
            .contains("x87 rounding"));
    }
}
