// sleeper: blocks forever (until killed).
#include "rt/sys.h"

int main(u64) {
    for (;;) rt::sleep_ns(abi::kForever);
}
