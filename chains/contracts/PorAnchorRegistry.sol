// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title PorAnchorRegistry: where an exchange records each period's proof-of-reserves commitment.
/// @notice exchange (the sender) -> period (keccak256 of the snapshot id) -> digest (SHA-256 of the
/// commitment, docs/formats/signing.md). Nothing is ever refused or overwritten: every record is an
/// event, and `count` says how many there are, so a second, different commitment for a period is
/// visible to every customer (and a provider that hides an event is caught by the count).
contract PorAnchorRegistry {
    event Anchored(address indexed exchange, bytes32 indexed period, bytes32 digest, string snapshotId);

    mapping(address => mapping(bytes32 => bytes32)) public firstDigest;
    mapping(address => mapping(bytes32 => uint256)) public count;

    function anchor(string calldata snapshotId, bytes32 digest) external {
        bytes32 period = keccak256(bytes(snapshotId));
        if (count[msg.sender][period] == 0) {
            firstDigest[msg.sender][period] = digest;
        }
        count[msg.sender][period] += 1;
        emit Anchored(msg.sender, period, digest, snapshotId);
    }
}
