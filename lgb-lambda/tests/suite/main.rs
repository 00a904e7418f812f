//! lgb-lambda's integration tests, in one binary: the real `bootstrap` under the AWS
//! Lambda Runtime Interface Emulator (`rie`) and Lambda workers that fail (`faults`).
//! Both share [`support`]: the emulator harness and the AWS credentials of the process.

mod control_plane;
mod faults;
mod rie;
mod support;
