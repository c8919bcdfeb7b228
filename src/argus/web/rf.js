// RF tab: receivers, localizations, measurements (placeholder until the page lands).
"use strict";
