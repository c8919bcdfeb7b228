// Transients tab: the validation queue (placeholder until the queue lands).
"use strict";
