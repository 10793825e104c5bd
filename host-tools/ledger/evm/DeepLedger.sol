// SPDX-License-Identifier: MIT
// DEEP ledger contract: anchors the ingest node's Merkle batches of device-signed energy
// reports, binds devices to their riders' accounts, and settles grid energy at the grid
// operator's prices, all in integers. protocol/SPEC.md §6 (batches) and §7 (this contract).
//
// Compiled with solc 0.8.37 for evmVersion "london": Energy Web Chain and Volta enable no
// fork after London, so no PUSH0 (Shanghai), MCOPY or transient storage (Cancun).
//
// Ed25519 has no precompile on these chains, so the node verifies report signatures off
// chain and this contract holds commitments: a batch's RFC 9162 root and size, and per
// device the seq range (which must continue the device's anchored chain exactly) and the
// energy per flow. Anyone can check a report against a root with verifyInclusion().
pragma solidity ^0.8.20;

contract DeepLedger {
    // ------------------------------------------------------------------ types

    /// One device's run of leaves in a batch: seq firstSeq..lastSeq, energy summed over the
    /// run and over the device's packs (mWh), and how many grid records follow for it.
    /// Grid energy not in a record (no trusted time, or no posted price) is unpriced.
    struct DeviceBatch {
        bytes8 device;
        uint64 firstSeq;
        uint64 lastSeq;
        uint64 gridToPackMwh;
        uint64 packToGridMwh;
        uint64 packToMotorMwh;
        uint64 regenToPackMwh;
        uint32 gridRecords;
    }

    /// A price interval of the grid operator's series: from `start` (epoch seconds) to the
    /// next interval's start (or pricesEnd), in micro-units of the currency per kWh.
    struct PriceInterval {
        uint40 start;
        int48 importMicro;
        int48 exportMicro;
    }

    struct Batch {
        bytes32 root;
        uint64 treeSize;
        uint64 blockNumber;
        uint64 timestamp;
    }

    /// One storage slot per device: the anchored chain's next seq, and the exact sums of
    /// the per-report values in pico-units (10^-12) of the currency.
    struct DeviceState {
        uint40 nextSeq;
        int104 costPico;
        int104 revenuePico;
    }

    /// A market interval's utility prices (micro-units per kWh), for its devices without a
    /// result of their own: what they measured is imbalance (protocol/MARKET.md §5).
    struct MarketInterval {
        bool posted;
        int48 retailMicro;
        int48 feedInMicro;
    }

    /// One device's result in a market interval, as the grid operator posts it: the
    /// participant's netWh (> 0 into the bike) and amountNano, and its hub's utility prices.
    struct MarketResult {
        bytes8 device;
        int32 netWh;
        int64 amountNano;
        int48 retailMicro;
        int48 feedInMicro;
    }

    /// Per device and market interval, one slot: its result (if it had one) and the net
    /// energy (grid->pack - pack->grid, mWh) anchored so far, which the next batch's share
    /// of the same interval continues. An interval's value is a function of its whole net
    /// energy; each batch adds value(x + dx) - value(x), so the sum is value(total) exactly.
    struct MarketSlot {
        int56 measuredMwh;
        bool hasResult;
        int32 netWh;
        int64 amountNano;
        int48 retailMicro;
        int48 feedInMicro;
    }

    struct Owner {
        address owner;
        uint64 changes;
    }

    // A device's grid records in one batch, settled (memory only).
    struct Settled {
        int256 costPico;
        int256 revenuePico;
        uint256 pricedImport;
        uint256 pricedExport;
    }

    // The price series' bounds, read once per anchor.
    struct Series {
        uint256 count;
        uint256 start;
        uint256 end;
        uint256 marketS;
    }

    // ----------------------------------------------------------------- errors

    error NotAdmin(address sender);
    error NotAnchorer(address sender);
    error NotGridOperator(address sender);
    error ZeroAddress();
    error BatchAlreadyAnchored(uint64 batchId, uint64 lastAnchored);
    error BatchOutOfOrder(uint64 expected, uint64 got);
    error EmptyBatch();
    error TreeSizeMismatch(uint64 treeSize, uint256 leavesInRanges);
    error DevicesNotSorted(uint256 position, bytes8 device);
    error BadSeqRange(bytes8 device, uint64 firstSeq, uint64 lastSeq);
    error SeqGap(bytes8 device, uint64 expectedFirstSeq, uint64 firstSeq);
    error SeqOverlap(bytes8 device, uint64 expectedFirstSeq, uint64 firstSeq);
    error GridRecordCount(uint256 needed, uint256 given);
    error EmptyGridRecord(bytes8 device, uint256 record);
    error GridRecordsExceedTotals(bytes8 device, uint256 gridToPackInRecords, uint256 packToGridInRecords);
    error BadPriceIndex(bytes8 device, uint256 record, uint256 index);
    error SettlementOverflow(bytes8 device);
    error NoPrices();
    error PricesNotContiguous(uint40 expectedStart, uint40 start);
    error PricesNotIncreasing(uint256 position);
    error BadPricesEnd(uint40 lastStart, uint40 end);
    error MarketIntervalAlreadySet(uint32 intervalS);
    error BadMarketIntervalLength(uint32 intervalS);
    error MarketOff();
    error BadMarketIntervalStart(uint256 start, uint32 intervalS);
    error MarketIntervalAlreadyPosted(uint256 start);
    error MarketIntervalNotPosted(bytes8 device, uint256 start);
    error MarketResultsNotSorted(uint256 position, bytes8 device);
    error BadMarketResult(uint256 position, bytes8 device);
    error PriceRecordInMarket(bytes8 device, uint256 record);
    error MarketRecordWithoutMarket(bytes8 device, uint256 record);
    error AlreadyBound(bytes8 device, address owner);
    error NotBound(bytes8 device);
    error BadChallenge(uint256 length);
    error BadOwnerSignature(bytes8 device, address expectedSigner);

    // ----------------------------------------------------------------- events

    event AdminChanged(address indexed previousAdmin, address indexed newAdmin);
    event AnchorerSet(address indexed account, bool allowed);
    event GridOperatorSet(address indexed account);
    event BatchAnchored(uint64 indexed batchId, bytes32 root, uint64 treeSize, uint256 devices);
    /// One per device and batch: its seq range, the leaf index of firstSeq, energy per flow,
    /// and what its grid records were worth (pico-units) or could not be priced (mWh).
    event DeviceAnchored(
        bytes8 indexed device,
        uint64 indexed batchId,
        uint64 firstSeq,
        uint64 lastSeq,
        uint64 firstLeaf,
        uint64 gridToPackMwh,
        uint64 packToGridMwh,
        uint64 packToMotorMwh,
        uint64 regenToPackMwh,
        int256 costPico,
        int256 revenuePico,
        uint256 unpricedImportMwh,
        uint256 unpricedExportMwh
    );
    event PricesPosted(uint256 firstIndex, uint256 count, uint40 start, uint40 end);
    event MarketIntervalSet(uint32 intervalS);
    event MarketIntervalPosted(uint40 indexed start, int48 retailMicro, int48 feedInMicro, uint256 results);
    event OwnerBound(bytes8 indexed device, address indexed owner, bytes32 publicKey, bytes challenge);
    event OwnerChanged(bytes8 indexed device, address indexed previousOwner, address indexed newOwner, int256 movedPico);

    // ------------------------------------------------------------------ state

    uint256 private constant MASK32 = 0xFFFFFFFF;
    uint256 private constant MASK40 = 0xFFFFFFFFFF;
    uint256 private constant MASK48 = 0xFFFFFFFFFFFF;
    uint64 private constant SEQ_LIMIT = uint64(1) << 40;
    int256 private constant INT104_MAX = int256(type(int104).max);
    int256 private constant INT104_MIN = int256(type(int104).min);
    // secp256k1n / 2: a signature with a larger s has a twin (EIP-2), refuse it.
    uint256 private constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 public constant BIND_TYPEHASH = keccak256("BindDevice(bytes8 device,bytes32 publicKey,bytes challenge)");
    bytes32 public constant CHANGE_TYPEHASH = keccak256("ChangeOwner(bytes8 device,address newOwner,uint64 nonce)");

    address public admin;
    uint64 public lastBatchId;
    // Slot: grid operator and the bounds of the posted price series.
    address public gridOperator;
    uint40 public pricesStart;
    uint40 public pricesEnd;

    mapping(address => bool) public anchorers;
    mapping(uint256 => Batch) public batches;
    mapping(bytes8 => DeviceState) public devices;
    /// The price series, intervals 0..priceCount-1 (a mapping: no length check per read).
    mapping(uint256 => PriceInterval) public prices;
    uint256 public priceCount;

    /// The market's interval length, s (0: no market; grid energy settles at the price series).
    uint32 public marketIntervalS;
    mapping(uint256 => MarketInterval) public marketIntervals;
    mapping(bytes8 => mapping(uint256 => MarketSlot)) public marketSlots;

    mapping(bytes8 => Owner) public owners;
    mapping(bytes8 => bytes32) public publicKeys;
    /// Balance credited to accounts when a device they owned changed hands (pico-units).
    mapping(address => int256) public accountPico;
    /// Part of a device's revenue − cost already moved to previous owners' accounts.
    mapping(bytes8 => int256) public movedPico;
    mapping(address => bytes8[]) private owned;
    mapping(bytes8 => uint256) private ownedSlot; // index in owned[owner] + 1

    constructor(address gridOperator_, address[] memory anchorers_) {
        admin = msg.sender;
        emit AdminChanged(address(0), msg.sender);
        gridOperator = gridOperator_;
        emit GridOperatorSet(gridOperator_);
        for (uint256 i = 0; i < anchorers_.length; i++) {
            anchorers[anchorers_[i]] = true;
            emit AnchorerSet(anchorers_[i], true);
        }
    }

    // ------------------------------------------------------------------ roles

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    function setAdmin(address next) external onlyAdmin {
        if (next == address(0)) revert ZeroAddress();
        emit AdminChanged(admin, next);
        admin = next;
    }

    function setAnchorer(address account, bool allowed) external onlyAdmin {
        anchorers[account] = allowed;
        emit AnchorerSet(account, allowed);
    }

    function setGridOperator(address account) external onlyAdmin {
        gridOperator = account;
        emit GridOperatorSet(account);
    }

    // ------------------------------------------------------------ anchoring

    /**
     * Anchors batch `batchId` (the next one: batches are numbered 1, 2, ... without holes,
     * so a batch can be anchored once and none skipped). `entries` in ascending kid order,
     * each continuing its device's anchored chain at exactly the next seq; their runs add
     * up to `treeSize` leaves. `grid` holds the devices' grid records, grouped in the order
     * of `entries` (gridRecords each), one word each:
     *   bits 255..216 window start (epoch s), 215..184 duration (s), 183..136 grid->pack
     *   mWh, 135..88 pack->grid mWh, 87..56 index of the price interval holding the start.
     * A record is valued at the time-weighted price of its window, rounded half to even to
     * the pico-unit, as host-tools/testnet/settlement.ts values a report. A record is one
     * report, or the reports whose windows lie inside one price interval, merged into a
     * record spanning that interval: their value is exactly energy × price, no rounding,
     * so merging changes no balance and saves gas.
     * Once the market is on (setMarketInterval), every grid record is a market record
     * instead, bit 0 set: bits 255..216 the interval's start, 183..136 grid->pack mWh,
     * 135..88 pack->grid mWh, the device's share of the interval (protocol/MARKET.md §5.1,
     * from this batch's reports). The interval's results must be posted before (ordering
     * rule: MarketIntervalNotPosted otherwise; the anchorer tries again later).
     */
    function anchor(
        uint64 batchId,
        bytes32 root,
        uint64 treeSize,
        DeviceBatch[] calldata entries,
        uint256[] calldata grid
    ) external {
        if (!anchorers[msg.sender]) revert NotAnchorer(msg.sender);
        uint64 last = lastBatchId;
        if (batchId <= last) revert BatchAlreadyAnchored(batchId, last);
        if (batchId != last + 1) revert BatchOutOfOrder(last + 1, batchId);
        if (treeSize == 0 || entries.length == 0) revert EmptyBatch();
        Series memory series = Series(priceCount, pricesStart, pricesEnd, marketIntervalS);
        (uint256 leaves, uint256 gridUsed) = _anchorDevices(entries, grid, batchId, series);
        if (gridUsed != grid.length) revert GridRecordCount(gridUsed, grid.length);
        if (leaves != treeSize) revert TreeSizeMismatch(treeSize, leaves);
        lastBatchId = batchId;
        batches[batchId] = Batch(root, treeSize, uint64(block.number), uint64(block.timestamp));
        emit BatchAnchored(batchId, root, treeSize, entries.length);
    }

    function _anchorDevices(
        DeviceBatch[] calldata entries,
        uint256[] calldata grid,
        uint64 batchId,
        Series memory series
    ) internal returns (uint256 leaves, uint256 gridPos) {
        bytes8 prev = 0;
        for (uint256 i = 0; i < entries.length; i++) {
            DeviceBatch calldata d = entries[i];
            bytes8 device = d.device;
            if (i > 0 && device <= prev) revert DevicesNotSorted(i, device);
            prev = device;
            gridPos = _anchorDevice(d, grid, gridPos, batchId, leaves, series);
            // lastSeq >= firstSeq and both < 2^40 were checked: no overflow.
            unchecked {
                leaves += uint256(d.lastSeq) - d.firstSeq + 1;
            }
        }
    }

    function _anchorDevice(
        DeviceBatch calldata d,
        uint256[] calldata grid,
        uint256 from,
        uint64 batchId,
        uint256 firstLeaf,
        Series memory series
    ) internal returns (uint256) {
        bytes8 device = d.device;
        uint64 firstSeq = d.firstSeq;
        uint64 lastSeq = d.lastSeq;
        if (lastSeq < firstSeq || lastSeq >= SEQ_LIMIT - 1) revert BadSeqRange(device, firstSeq, lastSeq);
        DeviceState memory s = devices[device];
        if (firstSeq > s.nextSeq) revert SeqGap(device, s.nextSeq, firstSeq);
        if (firstSeq < s.nextSeq) revert SeqOverlap(device, s.nextSeq, firstSeq);
        uint256 to = from + d.gridRecords;
        if (to > grid.length) revert GridRecordCount(to, grid.length);
        Settled memory a = _settle(d, grid, from, to, series);
        int256 cost = int256(s.costPico) + a.costPico;
        int256 revenue = int256(s.revenuePico) + a.revenuePico;
        if (cost > INT104_MAX || cost < INT104_MIN || revenue > INT104_MAX || revenue < INT104_MIN) {
            revert SettlementOverflow(device);
        }
        devices[device] = DeviceState(uint40(lastSeq + 1), int104(cost), int104(revenue));
        _emitAnchored(d, batchId, firstLeaf, a);
        return to;
    }

    function _emitAnchored(DeviceBatch calldata d, uint64 batchId, uint256 firstLeaf, Settled memory a) private {
        emit DeviceAnchored(
            d.device,
            batchId,
            d.firstSeq,
            d.lastSeq,
            uint64(firstLeaf),
            d.gridToPackMwh,
            d.packToGridMwh,
            d.packToMotorMwh,
            d.regenToPackMwh,
            a.costPico,
            a.revenuePico,
            d.gridToPackMwh - a.pricedImport,
            d.packToGridMwh - a.pricedExport
        );
    }

    /// Values a device's grid records; their energy may not exceed the run's totals (the
    /// rest is unpriced: no trusted time, or outside the posted series). Market records
    /// also move the device's per-interval state (MarketSlot).
    function _settle(
        DeviceBatch calldata d,
        uint256[] calldata grid,
        uint256 from,
        uint256 to,
        Series memory series
    ) internal returns (Settled memory a) {
        uint256 g2pSum = 0;
        uint256 p2gSum = 0;
        int256 cost = 0;
        int256 revenue = 0;
        uint256 pricedImport = 0;
        uint256 pricedExport = 0;
        uint256 seriesStart = series.start;
        uint256 seriesEnd = series.end;
        for (uint256 k = from; k < to; k++) {
            uint256 w = grid[k];
            uint256 g2p = (w >> 136) & MASK48;
            uint256 p2g = (w >> 88) & MASK48;
            if (g2p == 0 && p2g == 0) revert EmptyGridRecord(d.device, k - from);
            uint256 start = w >> 216;
            if (w & 1 == 1) {
                int256 v = _settleMarket(d.device, k - from, start, int256(g2p) - int256(p2g), series.marketS);
                if (v < 0) cost -= v;
                else revenue += v;
                unchecked {
                    g2pSum += g2p;
                    p2gSum += p2g;
                    pricedImport += g2p;
                    pricedExport += p2g;
                }
                continue;
            }
            if (series.marketS != 0) revert PriceRecordInMarket(d.device, k - from);
            uint256 end;
            // 48-bit energies, 40-bit start, 32-bit duration: none of these sums can overflow.
            unchecked {
                uint256 duration = (w >> 184) & MASK32;
                g2pSum += g2p;
                p2gSum += p2g;
                // A zero-length window takes the price of its instant (settlement.ts does the same).
                end = start + (duration == 0 ? 1 : duration);
            }
            // Outside the posted series: counted as unpriced, never guessed.
            if (start < seriesStart || end > seriesEnd) continue;
            (int256 importMicroS, int256 exportMicroS) = _priceSeconds(d.device, k - from, start, end, (w >> 56) & MASK32, series);
            // Energy < 2^48 mWh times Σ price·s < 2^81: products < 2^129, sums of at most
            // 2^32 of them < 2^161. No overflow in int256.
            unchecked {
                if (g2p > 0) cost += _divRoundHalfEven(int256(g2p) * importMicroS, end - start);
                if (p2g > 0) revenue += _divRoundHalfEven(int256(p2g) * exportMicroS, end - start);
                pricedImport += g2p;
                pricedExport += p2g;
            }
        }
        if (g2pSum > d.gridToPackMwh || p2gSum > d.packToGridMwh) revert GridRecordsExceedTotals(d.device, g2pSum, p2gSum);
        a.costPico = cost;
        a.revenuePico = revenue;
        a.pricedImport = pricedImport;
        a.pricedExport = pricedExport;
    }

    /// What a device's net energy `dx` (mWh) in the market interval at `start` adds to its
    /// balance (pico-units), given what was anchored of that interval before.
    function _settleMarket(bytes8 device, uint256 k, uint256 start, int256 dx, uint256 marketS) internal returns (int256) {
        if (marketS == 0) revert MarketRecordWithoutMarket(device, k);
        MarketInterval memory iv = marketIntervals[start];
        if (!iv.posted) revert MarketIntervalNotPosted(device, start);
        MarketSlot storage slot = marketSlots[device][start];
        MarketSlot memory s = slot;
        if (!s.hasResult) {
            s.retailMicro = iv.retailMicro;
            s.feedInMicro = iv.feedInMicro;
        }
        int256 x0 = s.measuredMwh;
        // Per record |dx| < 2^48 and at most 2^32 records per batch: x fits int56 for any
        // real device (2^55 mWh); checked so that a lie cannot wrap it.
        int256 x1 = x0 + dx;
        if (x1 > int256(type(int56).max) || x1 < int256(type(int56).min)) revert SettlementOverflow(device);
        slot.measuredMwh = int56(x1);
        return _marketValue(s, x1) - _marketValue(s, x0);
    }

    /// protocol/MARKET.md §5 for a net energy x (mWh) against a device's result: the matched
    /// part d = clamp(x, min(0, m), max(0, m)) at round(amountNano·d/|netWh|)·sign(m), the
    /// rest at the utility's price (retail in, feed-in out). Pico-units.
    function _marketValue(MarketSlot memory s, int256 x) internal pure returns (int256 v) {
        int256 m = int256(s.netWh) * 1000;
        int256 d = 0;
        if (m > 0) d = x < 0 ? int256(0) : (x > m ? m : x);
        else if (m < 0) d = x > 0 ? int256(0) : (x < m ? m : x);
        if (m != 0) {
            int256 q = _divRoundHalfEven(int256(s.amountNano) * d, uint256(m > 0 ? int256(s.netWh) : -int256(s.netWh)));
            v = m > 0 ? q : -q;
        }
        int256 rest = x - d;
        v -= rest * (rest > 0 ? int256(s.retailMicro) : int256(s.feedInMicro));
    }

    /// Σ price × seconds over [start, end), which lies inside the series, from interval `i`
    /// (checked: it must hold `start`).
    function _priceSeconds(
        bytes8 device,
        uint256 k,
        uint256 start,
        uint256 end,
        uint256 i,
        Series memory series
    ) internal view returns (int256 importMicroS, int256 exportMicroS) {
        uint256 count = series.count;
        if (i >= count) revert BadPriceIndex(device, k, i);
        PriceInterval storage iv = prices[i];
        uint256 ivStart = iv.start;
        uint256 ivEnd = i + 1 < count ? prices[i + 1].start : series.end;
        if (ivStart > start || ivEnd <= start) revert BadPriceIndex(device, k, i);
        uint256 t = start;
        // |price| < 2^47, seconds < 2^33 per window: each term and the sums fit easily.
        unchecked {
            while (true) {
                uint256 until = ivEnd < end ? ivEnd : end;
                int256 secs = int256(until - t);
                importMicroS += int256(iv.importMicro) * secs;
                exportMicroS += int256(iv.exportMicro) * secs;
                t = until;
                if (t >= end) break;
                i++;
                iv = prices[i];
                ivEnd = i + 1 < count ? prices[i + 1].start : series.end;
            }
        }
    }

    /// n / d rounded to the nearest integer, ties to even (d > 0, |n| < 2^255).
    function _divRoundHalfEven(int256 n, uint256 d) internal pure returns (int256) {
        unchecked {
            bool neg = n < 0;
            uint256 a = neg ? uint256(-n) : uint256(n);
            uint256 q = a / d;
            uint256 r = a % d;
            // r < d, so 2r cannot overflow for d < 2^255.
            if (2 * r > d || (2 * r == d && q & 1 == 1)) q += 1;
            return neg ? -int256(q) : int256(q);
        }
    }

    // ---------------------------------------------------------- verification

    /// The leaf hash of a report: SHA-256(0x00 || its COSE_Sign1 bytes).
    function leafHashOf(bytes calldata report) external pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), report));
    }

    /// RFC 9162 §2.1.3.2: does `path` prove `leafHash` is leaf `index` of batch `batchId`?
    function verifyInclusion(uint64 batchId, bytes32 leafHash, uint256 index, bytes32[] calldata path) external view returns (bool) {
        Batch storage b = batches[batchId];
        uint256 size = b.treeSize;
        if (size == 0 || index >= size) return false;
        uint256 fn = index;
        uint256 sn = size - 1;
        bytes32 r = leafHash;
        for (uint256 k = 0; k < path.length; k++) {
            if (sn == 0) return false;
            if (fn & 1 == 1 || fn == sn) {
                r = sha256(abi.encodePacked(bytes1(0x01), path[k], r));
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = sha256(abi.encodePacked(bytes1(0x01), r, path[k]));
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r == b.root;
    }

    // ---------------------------------------------------------------- prices

    /**
     * Appends intervals to the price series: starts strictly increasing, the first at the
     * end of what was posted before (the series has no holes), `end` closing the last one.
     * Prices apply to reports anchored after they were posted.
     */
    function postPrices(PriceInterval[] calldata intervals, uint40 end) external {
        if (msg.sender != gridOperator) revert NotGridOperator(msg.sender);
        if (intervals.length == 0) revert NoPrices();
        uint256 first = priceCount;
        if (first > 0 && intervals[0].start != pricesEnd) revert PricesNotContiguous(pricesEnd, intervals[0].start);
        for (uint256 i = 0; i < intervals.length; i++) {
            if (i > 0 && intervals[i].start <= intervals[i - 1].start) revert PricesNotIncreasing(i);
            prices[first + i] = intervals[i];
        }
        priceCount = first + intervals.length;
        uint40 lastStart = intervals[intervals.length - 1].start;
        if (end <= lastStart) revert BadPricesEnd(lastStart, end);
        if (first == 0) pricesStart = intervals[0].start;
        pricesEnd = end;
        emit PricesPosted(first, intervals.length, intervals[0].start, end);
    }

    // ---------------------------------------------------------------- market

    /// Turns the market on, once: from then on grid energy settles at the market's results
    /// (postMarketInterval), interval by interval, and no longer at the price series.
    function setMarketInterval(uint32 intervalS) external {
        if (msg.sender != gridOperator) revert NotGridOperator(msg.sender);
        if (marketIntervalS != 0) revert MarketIntervalAlreadySet(marketIntervalS);
        if (intervalS == 0) revert BadMarketIntervalLength(intervalS);
        marketIntervalS = intervalS;
        emit MarketIntervalSet(intervalS);
    }

    /**
     * Posts a market interval's results, once: the utility's prices of the interval (for
     * devices without a result) and each participating device's result, in ascending device
     * order. Reports of the interval can be anchored only after this (MARKET.md §5.2).
     */
    function postMarketInterval(uint40 start, int48 retailMicro, int48 feedInMicro, MarketResult[] calldata results) external {
        if (msg.sender != gridOperator) revert NotGridOperator(msg.sender);
        uint32 len = marketIntervalS;
        if (len == 0) revert MarketOff();
        if (start % len != 0) revert BadMarketIntervalStart(start, len);
        if (marketIntervals[start].posted) revert MarketIntervalAlreadyPosted(start);
        marketIntervals[start] = MarketInterval(true, retailMicro, feedInMicro);
        bytes8 prev = 0;
        for (uint256 i = 0; i < results.length; i++) {
            MarketResult calldata r = results[i];
            if (i > 0 && r.device <= prev) revert MarketResultsNotSorted(i, r.device);
            prev = r.device;
            if (r.device == bytes8(0)) revert BadMarketResult(i, r.device);
            // Nothing of this interval can be anchored yet (it was not posted): a fresh slot.
            marketSlots[r.device][start] = MarketSlot(0, true, r.netWh, r.amountNano, r.retailMicro, r.feedInMicro);
        }
        emit MarketIntervalPosted(start, retailMicro, feedInMicro, results.length);
    }

    // ---------------------------------------------------------------- owners

    function _domainSeparator() internal view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256("DEEP Ledger"), keccak256("1"), block.chainid, address(this)));
    }

    function _recover(bytes32 structHash, bytes calldata sig) internal view returns (address) {
        if (sig.length != 65) return address(0);
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", _domainSeparator(), structHash));
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v < 27) v += 27;
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) return address(0);
        return ecrecover(digest, v, r, s);
    }

    /**
     * Binds a device (by its Ed25519 public key; kid = SHA-256(key)[0..8)) to its rider's
     * account. The rider signed, EIP-712, BindDevice(kid, publicKey, challenge) with the
     * node's pairing challenge; only the node's anchoring accounts submit it, because only
     * the node saw the device's own pairing proof over that challenge.
     */
    function bindOwner(bytes32 publicKey, bytes calldata challenge, address owner, bytes calldata signature) external {
        if (!anchorers[msg.sender]) revert NotAnchorer(msg.sender);
        bytes8 kid = bytes8(sha256(abi.encodePacked(publicKey)));
        address current = owners[kid].owner;
        if (current != address(0)) revert AlreadyBound(kid, current);
        if (challenge.length < 16 || challenge.length > 64) revert BadChallenge(challenge.length);
        if (owner == address(0)) revert ZeroAddress();
        bytes32 structHash = keccak256(abi.encode(BIND_TYPEHASH, kid, publicKey, keccak256(challenge)));
        if (_recover(structHash, signature) != owner) revert BadOwnerSignature(kid, owner);
        owners[kid] = Owner(owner, 0);
        publicKeys[kid] = publicKey;
        _own(owner, kid);
        emit OwnerBound(kid, owner, publicKey, challenge);
    }

    /**
     * Hands a device to `newOwner`, signed (EIP-712 ChangeOwner(kid, newOwner, nonce)) by its
     * current owner; nonce = the number of changes so far, so a signature works once. What
     * the device earned so far goes to the previous owner's account. Anyone may submit it.
     */
    function changeOwner(bytes8 device, address newOwner, bytes calldata signature) external {
        Owner memory o = owners[device];
        if (o.owner == address(0)) revert NotBound(device);
        if (newOwner == address(0)) revert ZeroAddress();
        bytes32 structHash = keccak256(abi.encode(CHANGE_TYPEHASH, device, newOwner, o.changes));
        if (_recover(structHash, signature) != o.owner) revert BadOwnerSignature(device, o.owner);
        int256 accrued = _accrued(device);
        accountPico[o.owner] += accrued;
        movedPico[device] += accrued;
        _disown(o.owner, device);
        _own(newOwner, device);
        owners[device] = Owner(newOwner, o.changes + 1);
        emit OwnerChanged(device, o.owner, newOwner, accrued);
    }

    function _own(address owner, bytes8 device) private {
        owned[owner].push(device);
        ownedSlot[device] = owned[owner].length;
    }

    function _disown(address owner, bytes8 device) private {
        bytes8[] storage list = owned[owner];
        uint256 i = ownedSlot[device] - 1;
        bytes8 lastDevice = list[list.length - 1];
        list[i] = lastDevice;
        ownedSlot[lastDevice] = i + 1;
        list.pop();
        ownedSlot[device] = 0;
    }

    function _accrued(bytes8 device) private view returns (int256) {
        DeviceState memory s = devices[device];
        return int256(s.revenuePico) - int256(s.costPico) - movedPico[device];
    }

    function devicesOf(address owner) external view returns (bytes8[] memory) {
        return owned[owner];
    }

    // ------------------------------------------------------------- balances

    /// A device's revenue − cost since its first report, rounded once to micro-units, ties
    /// to even: the figure `deep testnet` settles off chain for the same reports.
    function deviceBalanceMicro(bytes8 device) external view returns (int256) {
        DeviceState memory s = devices[device];
        return _divRoundHalfEven(int256(s.revenuePico) - int256(s.costPico), 1_000_000);
    }

    /// What the grid owes `account` (negative: what it owes the grid), micro-units, rounded
    /// once: its devices' earnings since it owns them plus what devices it gave away earned.
    function balanceMicro(address account) external view returns (int256) {
        int256 pico = accountPico[account];
        bytes8[] storage list = owned[account];
        for (uint256 i = 0; i < list.length; i++) pico += _accrued(list[i]);
        return _divRoundHalfEven(pico, 1_000_000);
    }
}
