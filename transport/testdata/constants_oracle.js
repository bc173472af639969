// Oracle for constants_node_oracle_test: prints every http2.constants entry as name <TAB> value.
'use strict';
const { constants } = require('http2');
for (const [name, value] of Object.entries(constants)) console.log(`${name}\t${value}`);
